"""Image datasets from tensorflow-datasets, as batched `tf.data` pipelines.

`load_images(name, ...)` finds the data in this order: an explicit directory of
IDX files (`--data-dir`); the tfds data directory (`TFDS_DATA_DIR`, default
`~/tensorflow_datasets`) when the dataset is already prepared there; a download
by tfds when its server answers within seconds; for Fashion-MNIST, the Debian
package `dataset-fashion-mnist`. Otherwise it raises `DataError` at once with
the ways to get the data: nothing waits on network retries.
"""

import dataclasses
import os
import socket
import threading
import urllib.parse
from pathlib import Path

from experiments.errors import DataError
from experiments.idx_builders import IDX_BUILDERS


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    download_url: str  # where tfds downloads the files from
    idx_dir: str | None = None  # where a Debian package installs the IDX files
    apt_package: str | None = None


DATASETS = {
    "fashion_mnist": DatasetSpec(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        idx_dir="/usr/share/datasets/fashion-mnist",
        apt_package="dataset-fashion-mnist",
    ),
    "mnist": DatasetSpec("https://storage.googleapis.com/cvdf-datasets/mnist/"),
    "cifar10": DatasetSpec("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"),
}

NETWORK_TIMEOUT_S = 3.0


@dataclasses.dataclass
class ImageData:
    """Batched train / validation / test pipelines of (image, label) pairs."""

    name: str
    train: object
    val: object
    test: object
    splits: dict  # role -> tfds split spec, e.g. {"train": "train[:2048]"}
    sizes: dict  # role -> number of examples
    image_shape: tuple
    num_classes: int
    source: str  # the directory the examples were read from


def network_reachable(url, timeout=NETWORK_TIMEOUT_S):
    """Whether a TCP connection to the server of `url` opens within `timeout` seconds.

    Runs in a daemon thread because name resolution ignores socket timeouts.
    """
    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    result = []

    def connect():
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            result.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result)


def _tfds_dir():
    # Read at call time (tfds reads it once, at import).
    return os.environ.get("TFDS_DATA_DIR")


def _how_to_get(name):
    spec = DATASETS[name]
    ways = [f"run once with network access, so tensorflow-datasets downloads {name!r}"]
    if spec.apt_package:
        ways.append(f"install its Debian package: sudo apt-get install {spec.apt_package}")
    if name in IDX_BUILDERS:
        ways.append("pass --data-dir DIR, a directory holding its four IDX files (*-ubyte.gz)")
    return "; or ".join(ways)


def _prepare_from_idx(name, idx_dir):
    import tensorflow_datasets as tfds

    if name not in IDX_BUILDERS:
        raise DataError(
            f"--data-dir reads MNIST-format IDX files, which dataset {name!r} does not "
            f"come in. Datasets readable from IDX files: {', '.join(IDX_BUILDERS)}"
        )
    if not Path(idx_dir).is_dir():
        raise DataError(f"Data directory not found: {idx_dir}")
    builder = IDX_BUILDERS[name](data_dir=_tfds_dir())
    if not builder.is_prepared():
        print(f"Preparing {name} from the IDX files in {idx_dir} (once) ...", flush=True)
        tfds.disable_progress_bar()
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(manual_dir=str(idx_dir))
        )
    return builder


def prepared_builder(name, data_dir=None):
    """Returns a tfds builder of `name` whose data is prepared on disk."""
    import tensorflow_datasets as tfds

    if name not in DATASETS:
        raise DataError(f"Unknown dataset {name!r}. Choose one of: {', '.join(DATASETS)}")
    if data_dir is not None:
        return _prepare_from_idx(name, data_dir)
    builder = tfds.builder(name, data_dir=_tfds_dir())
    if builder.is_prepared():
        return builder
    spec = DATASETS[name]
    if network_reachable(spec.download_url):
        builder.download_and_prepare()
        return builder
    if spec.idx_dir and Path(spec.idx_dir).is_dir():
        print(f"Offline: reading {name} from {spec.idx_dir}", flush=True)
        return _prepare_from_idx(name, spec.idx_dir)
    raise DataError(
        f"Dataset {name!r} is not in the tensorflow-datasets directory "
        f"{builder.data_dir_root} and {spec.download_url} cannot be reached. "
        f"To get it: {_how_to_get(name)}."
    )


def _split_specs(train_size, val_size, test_size):
    """tfds split strings: validation is held out from the end of the train split."""
    train = f"train[:{train_size}]" if train_size else f"train[:-{val_size}]"
    test = f"test[:{test_size}]" if test_size else "test"
    return {"train": train, "val": f"train[-{val_size}:]", "test": test}


def load_images(
    name, *, batch_size, seed, train_size=None, val_size=5000, test_size=None, data_dir=None
):
    """Returns `ImageData` with pixels scaled to [0, 1] and shuffled training batches.

    Args:
        name: a key of `DATASETS`.
        batch_size, seed: of the training pipeline (evaluation is unshuffled).
        train_size, test_size: number of examples, None for the whole split.
        val_size: examples held out from the end of the train split.
        data_dir: optional directory of IDX files to read instead.
    """
    import tensorflow as tf

    builder = prepared_builder(name, data_dir)
    splits = _split_specs(train_size, val_size, test_size)
    try:
        datasets = builder.as_dataset(split=list(splits.values()), as_supervised=True)
    except (ValueError, AssertionError) as error:  # e.g. a subset larger than the split
        raise DataError(f"Cannot read {splits} of {name!r}: {error}") from None

    def scale(image, label):
        return tf.cast(image, tf.float32) / 255.0, label

    def pipeline(dataset, shuffle):
        dataset = dataset.map(scale, num_parallel_calls=tf.data.AUTOTUNE).cache()
        if shuffle:
            dataset = dataset.shuffle(10_000, seed=seed, reshuffle_each_iteration=True)
        return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    train, val, test = datasets
    info = builder.info
    return ImageData(
        name=name,
        train=pipeline(train, shuffle=True),
        val=pipeline(val, shuffle=False),
        test=pipeline(test, shuffle=False),
        splits=splits,
        sizes={role: info.splits[spec].num_examples for role, spec in splits.items()},
        image_shape=tuple(info.features["image"].shape),
        num_classes=info.features["label"].num_classes,
        source=str(builder.data_dir),
    )
