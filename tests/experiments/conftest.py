"""Fixtures: a tiny Fashion-MNIST in IDX files, its tfds copy, a temporary MLflow store."""

import gzip
import struct

import pytest

from experiments.data import images as data
from experiments.data.idx import IDX_FILES

DEBIAN_DIR = data.DATASETS["fashion_mnist"].idx_dir
TINY = {"train": 640, "test": 160}
# Sizes the tiny dataset can serve; quick runs in tests use them.
TINY_SETTINGS = {"epochs": 2, "batch_size": 32, "train_size": 256, "val_size": 128,
                 "test_size": 128}


def write_idx_subset(source, target, count):
    """Copies the first `count` records of a gzipped IDX file, header adjusted."""
    with gzip.open(source, "rb") as f:
        raw = f.read()
    dims = raw[3]  # the magic number's last byte
    header = list(struct.unpack(f">{1 + dims}I", raw[: 4 * (1 + dims)]))
    record = 1
    for size in header[2:]:
        record *= size
    header[1] = count
    body = raw[4 * (1 + dims): 4 * (1 + dims) + count * record]
    with gzip.open(target, "wb") as f:
        f.write(struct.pack(f">{1 + dims}I", *header) + body)


@pytest.fixture(scope="session")
def tiny_idx_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("fashion_mnist_idx")
    for split, names in IDX_FILES.items():
        for name in names:
            write_idx_subset(f"{DEBIAN_DIR}/{name}", directory / name, TINY[split])
    return directory


@pytest.fixture(scope="session")
def tiny_tfds_dir(tiny_idx_dir, tmp_path_factory):
    """A tfds data directory holding the tiny Fashion-MNIST, prepared once."""
    directory = tmp_path_factory.mktemp("tfds")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TFDS_DATA_DIR", str(directory))
        data.prepare_from_idx("fashion_mnist", tiny_idx_dir)
    return directory


@pytest.fixture(scope="session")
def tiny_feature_cache(tmp_path_factory):
    """A GAN-scoring feature classifier trained for one epoch on random images, cached."""
    import numpy as np
    import tensorflow as tf

    from experiments.tasks import gan_metrics

    cache = tmp_path_factory.mktemp("feature_cache")
    rng = np.random.default_rng(0)
    images = rng.random((64, 28, 28, 1)).astype("float32")
    labels = rng.integers(0, 10, 64).astype("int32")
    gan_metrics.load_feature_extractor(
        cache, train_data=tf.data.Dataset.from_tensor_slices((images, labels)).batch(32),
        epochs=1)
    return cache


@pytest.fixture
def offline(monkeypatch):
    """No server answers: tests never download, whatever the machine's network."""
    monkeypatch.setattr(data, "network_reachable", lambda url, timeout=None: False)


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A temporary SQLite MLflow store; returns its URI."""
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


@pytest.fixture
def tiny_cnn(tiny_tfds_dir, offline, monkeypatch):
    """`--quick` CNN runs on the tiny dataset, in a couple of seconds."""
    from experiments.tasks import TASKS

    monkeypatch.setenv("TFDS_DATA_DIR", str(tiny_tfds_dir))
    monkeypatch.setattr(TASKS["cnn"], "quick_settings", TINY_SETTINGS)
    return TASKS["cnn"]


@pytest.fixture
def tiny_data(tiny_tfds_dir, offline, monkeypatch):
    """Tasks read the tiny Fashion-MNIST, offline."""
    monkeypatch.setenv("TFDS_DATA_DIR", str(tiny_tfds_dir))


@pytest.fixture
def runs_of(store):
    """`runs_of(task, **tags)`: the runs of a task's experiment in the temporary store
    whose tags match, oldest first."""
    import mlflow

    def runs(task, **tags):
        mlflow.set_tracking_uri(store)
        experiment = mlflow.get_experiment_by_name(f"keras-norms-{task}")
        if experiment is None:
            return []
        found = mlflow.MlflowClient().search_runs([experiment.experiment_id],
                                                  order_by=["attributes.start_time ASC"])
        return [r for r in found if all(r.data.tags.get(k) == v for k, v in tags.items())]

    return runs


@pytest.fixture
def metric_steps(store):
    """`metric_steps(run, metric)`: the steps `metric` was logged at, sorted."""
    import mlflow

    def steps(run, metric):
        history = mlflow.MlflowClient().get_metric_history(run.info.run_id, metric)
        return sorted(m.step for m in history)

    return steps


@pytest.fixture
def image_steps(store):
    """`image_steps(run, key)`: the steps of the images logged under `key`."""
    import mlflow

    def steps(run, key):
        paths = [a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id, "images")]
        # MLflow names them images/<key>+step+<step>+timestamp+...(.png|+compressed.webp).
        return sorted({int(p.split("+")[2]) for p in paths
                       if p.startswith(f"images/{key}+step+") and p.endswith(".png")})

    return steps
