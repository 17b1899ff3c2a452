"""Image datasets from tensorflow-datasets, as batched `tf.data` pipelines.

The suite's own datasets (`DATASETS`) can be fetched; any other
tensorflow-datasets classification dataset (with supervised keys, a class
label, train and test splits) is read if it is already prepared in the tfds
directory, and refused at once otherwise: it is never downloaded.

`load_images(name, ...)` finds the data in this order: an explicit directory of
IDX files (`--data-dir`), always read: it is prepared into a cache of its own,
keyed by the directory and the files' checksums, so a changed file is read
again and never mistaken for another copy; the tfds data directory (`TFDS_DATA_DIR`, default
`~/tensorflow_datasets`) when the dataset is already prepared there; a download
by tfds when its server answers within seconds; for Fashion-MNIST, the Debian
package `dataset-fashion-mnist`. Otherwise it raises `DataError` at once with
the ways to get the data: nothing waits on network retries.
"""

import dataclasses
import hashlib
import os
import socket
import threading
import urllib.parse
from pathlib import Path

from ..errors import DataError
from .idx import IDX_BUILDERS, IDX_FILES


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
    source: str  # where the examples come from: the --data-dir, else the tfds directory


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


def _idx_cache_dir(name, idx_dir):
    """The tfds data directory that holds `idx_dir`'s files prepared: its name
    carries a digest of the directory's path and of each file's bytes."""
    digest = hashlib.sha256(str(idx_dir).encode())
    for split_files in IDX_FILES.values():
        for filename in split_files:
            path = idx_dir / filename
            if not path.is_file():
                raise DataError(
                    f"--data-dir {idx_dir} has no {filename}: it must hold the four "
                    f"IDX files of {name} ({', '.join(sum(IDX_FILES.values(), ()))})"
                )
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    root = Path(_tfds_dir() or Path.home() / "tensorflow_datasets")
    return root / "keras_norms_idx" / f"{name}-{digest.hexdigest()[:16]}"


def _how_to_get(name):
    spec = DATASETS[name]
    ways = [f"run once with network access, so tensorflow-datasets downloads {name!r}"]
    if spec.apt_package:
        ways.append(f"install its Debian package: sudo apt-get install {spec.apt_package}")
    if name in IDX_BUILDERS:
        ways.append("pass --data-dir DIR, a directory holding its four IDX files (*-ubyte.gz)")
    return "; or ".join(ways)


def prepare_from_idx(name, idx_dir, data_dir=None):
    """A builder of `name` prepared from the IDX files in `idx_dir`, in the tfds
    directory `data_dir` (default: the usual one)."""
    import tensorflow_datasets as tfds

    if name not in IDX_BUILDERS:
        raise DataError(
            f"--data-dir reads MNIST-format IDX files, which dataset {name!r} does not "
            f"come in. Datasets readable from IDX files: {', '.join(IDX_BUILDERS)}"
        )
    if not Path(idx_dir).is_dir():
        raise DataError(
            f"Data directory not found: {idx_dir}. Give a directory holding the "
            "four IDX files, or leave --data-dir out"
        )
    builder = IDX_BUILDERS[name](data_dir=data_dir or _tfds_dir())
    if not builder.is_prepared():
        print(f"Preparing {name} from the IDX files in {idx_dir} (once) ...", flush=True)
        tfds.disable_progress_bar()
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(manual_dir=str(idx_dir))
        )
    return builder


def _locally_prepared(name):
    """A builder of the tensorflow-datasets dataset `name`, prepared in the
    tfds directory already; never downloads."""
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=_tfds_dir())
    except (tfds.core.registered.DatasetNotFoundError, ValueError) as error:
        first_line = str(error).strip().splitlines()[0]
        raise DataError(f"No tensorflow-datasets dataset {name!r}: {first_line}") from None
    if not builder.is_prepared():
        raise DataError(
            f"Dataset {name!r} is not prepared in the tensorflow-datasets directory "
            f"{builder.data_dir_root}, and only the suite's own datasets "
            f"({', '.join(DATASETS)}) are fetched. Prepare it once where the network is "
            f"reachable (`tfds build {name}`, with TFDS_DATA_DIR naming this directory), "
            "or give the data as a .npz file"
        )
    return builder


def prepared_builder(name, data_dir=None):
    """Returns a tfds builder of `name` whose data is prepared on disk."""
    import tensorflow_datasets as tfds

    if data_dir is not None:
        idx_dir = Path(data_dir).resolve()
        if name in IDX_BUILDERS and idx_dir.is_dir():
            return prepare_from_idx(name, idx_dir, _idx_cache_dir(name, idx_dir))
        return prepare_from_idx(name, idx_dir)
    if name not in DATASETS:
        return _locally_prepared(name)
    builder = tfds.builder(name, data_dir=_tfds_dir())
    if builder.is_prepared():
        return builder
    spec = DATASETS[name]
    if network_reachable(spec.download_url):
        builder.download_and_prepare()
        return builder
    if spec.idx_dir and Path(spec.idx_dir).is_dir():
        print(f"Offline: reading {name} from {spec.idx_dir}", flush=True)
        return prepare_from_idx(name, spec.idx_dir)
    raise DataError(
        f"Dataset {name!r} is not in the tensorflow-datasets directory "
        f"{builder.data_dir_root} and {spec.download_url} cannot be reached. "
        f"To get it: {_how_to_get(name)}."
    )


def classification_shapes(builder):
    """(input shape, number of classes) of a prepared tfds classification
    dataset; raises DataError naming what it lacks."""
    info = builder.info
    name = info.name
    if not info.supervised_keys or len(info.supervised_keys) != 2:
        raise DataError(
            f"Dataset {name!r} has no (input, label) supervised keys: "
            "it is not a classification dataset"
        )
    missing = [split for split in ("train", "test") if split not in info.splits]
    if missing:
        raise DataError(
            f"Dataset {name!r} has no {' and no '.join(missing)} split "
            f"(its splits: {', '.join(info.splits)})"
        )
    input_key, label_key = info.supervised_keys
    num_classes = getattr(info.features[label_key], "num_classes", None)
    if num_classes is None:
        raise DataError(f"Dataset {name!r}: its label {label_key!r} is not a class label")
    return tuple(info.features[input_key].shape), num_classes


def check_split_sizes(builder, config):
    """Refuses split sizes of `config` that the prepared `builder` cannot serve."""
    check_sizes(
        builder.info.name,
        builder.info.splits["train"].num_examples,
        builder.info.splits["test"].num_examples,
        config,
    )


def check_sizes(name, train_total, test_total, config):
    """Refuses split sizes of `config` that `train_total` training and
    `test_total` test examples of dataset `name` cannot serve."""
    val_size, train_size, test_size = (
        config["val_size"],
        config["train_size"],
        config["test_size"],
    )
    if val_size >= train_total:
        raise DataError(
            f"{val_size} validation examples leave none to train on: {name} has "
            f"{train_total} training examples. Use fewer"
        )
    if train_size is not None and train_size + val_size > train_total:
        raise DataError(
            f"--train-size {train_size} is more than the {train_total - val_size} "
            f"training examples of {name} left beside its {val_size} validation "
            f"ones. Use --train-size {train_total - val_size} or fewer"
        )
    if test_size is not None and test_size > test_total:
        raise DataError(f"{test_size} test examples asked for, {name} has {test_total}. Use fewer")


def split_specs(train_size, val_size, test_size):
    """tfds split strings: validation is held out from the end of the train split."""
    train = f"train[:{train_size}]" if train_size else f"train[:-{val_size}]"
    test = f"test[:{test_size}]" if test_size else "test"
    return {"train": train, "val": f"train[-{val_size}:]", "test": test}


def load_images(
    name, *, batch_size, seed, train_size=None, val_size=5000, test_size=None, data_dir=None
):
    """Returns `ImageData` with pixels scaled to [0, 1] and shuffled training batches.

    Args:
        name: a key of `DATASETS`, or a tfds classification dataset prepared
            locally.
        batch_size, seed: of the training pipeline (evaluation is unshuffled).
        train_size, test_size: number of examples, None for the whole split.
        val_size: examples held out from the end of the train split.
        data_dir: optional directory of IDX files to read instead.
    """
    builder = prepared_builder(name, data_dir)
    image_shape, num_classes = classification_shapes(builder)
    splits = split_specs(train_size, val_size, test_size)
    try:
        datasets = builder.as_dataset(split=list(splits.values()), as_supervised=True)
    except (ValueError, AssertionError) as error:  # e.g. a subset larger than the split
        raise DataError(f"Cannot read {splits} of {name!r}: {error}") from None

    train, val, test = datasets
    info = builder.info
    return ImageData(
        name=name,
        train=batched(train, batch_size, seed=seed),
        val=batched(val, batch_size),
        test=batched(test, batch_size),
        splits=splits,
        sizes={role: info.splits[spec].num_examples for role, spec in splits.items()},
        image_shape=image_shape,
        num_classes=num_classes,
        source=str(Path(data_dir).resolve()) if data_dir is not None else str(builder.data_dir),
    )


def batched(dataset, batch_size, seed=None):
    """`dataset` of (input, label) pairs as float32 inputs, 8-bit pixels
    scaled to [0, 1], in batches; shuffled with `seed` when given."""
    import tensorflow as tf

    pixels = dataset.element_spec[0].dtype == tf.uint8

    def scale(image, label):
        image = tf.cast(image, tf.float32)
        return (image / 255.0 if pixels else image), label

    dataset = dataset.map(scale, num_parallel_calls=tf.data.AUTOTUNE).cache()
    if seed is not None:
        dataset = dataset.shuffle(10_000, seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
