"""tensorflow-datasets builders that read MNIST-format IDX files from a local directory.

They prepare exactly the dataset tfds's own `mnist` / `fashion_mnist` builders
download (same name, version, features and splits), so once prepared the data
is found by `tfds.load` like any other. The files are checked first: a missing,
truncated or corrupt file raises `DataError` naming it, instead of a reshape
error deep inside tfds.
"""

import gzip
import struct
from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds
from tensorflow_datasets.image_classification import mnist

from ..errors import DataError

IDX_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

# IDX magic numbers: unsigned bytes, 3 dimensions (images) or 1 (labels).
_IMAGES_MAGIC = 0x00000803
_LABELS_MAGIC = 0x00000801
_IMAGE_SIDE = 28


def _read_idx(path, magic, header_dims):
    """Returns (count, payload bytes) of one gzipped IDX file, checked."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise DataError(f"Missing data file: {path}") from None
    except (OSError, EOFError) as error:
        raise DataError(f"Truncated or corrupt data file {path}: {error}") from None
    header_size = 4 * (1 + header_dims)
    if len(raw) < header_size:
        raise DataError(f"Truncated data file {path}: only {len(raw)} bytes")
    found_magic, *dims = struct.unpack(f">{1 + header_dims}I", raw[:header_size])
    if found_magic != magic:
        raise DataError(
            f"Corrupt data file {path}: IDX magic number {found_magic:#010x}, "
            f"expected {magic:#010x}"
        )
    count = dims[0]
    expected = count * (dims[1] * dims[2] if header_dims == 3 else 1)
    payload = raw[header_size:]
    if len(payload) != expected:
        raise DataError(
            f"Truncated or corrupt data file {path}: header announces {expected} "
            f"bytes of data, the file holds {len(payload)}"
        )
    if header_dims == 3 and dims[1:] != [_IMAGE_SIDE, _IMAGE_SIDE]:
        raise DataError(f"Unexpected image size {dims[1:]} in {path}")
    return count, payload


def read_split(directory, split):
    """Returns (images uint8 [n, 28, 28, 1], labels int64 [n]) of `split`."""
    images_file, labels_file = (Path(directory) / name for name in IDX_FILES[split])
    n_images, images = _read_idx(images_file, _IMAGES_MAGIC, 3)
    n_labels, labels = _read_idx(labels_file, _LABELS_MAGIC, 1)
    if n_images != n_labels:
        raise DataError(
            f"{images_file} holds {n_images} images but {labels_file} {n_labels} labels"
        )
    images = np.frombuffer(images, np.uint8).reshape(n_images, _IMAGE_SIDE, _IMAGE_SIDE, 1)
    return images, np.frombuffer(labels, np.uint8).astype(np.int64)


class _FromIdxFiles:
    """Replaces the download of an MNIST-format builder by the manual directory."""

    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Put the four IDX files (" + ", ".join(sum(IDX_FILES.values(), ())) + ") in the "
        "manual directory."
    )

    def _split_generators(self, dl_manager):
        # Read every split before writing any, so a bad file fails fast.
        splits = {split: read_split(dl_manager.manual_dir, split) for split in IDX_FILES}
        return [
            tfds.core.SplitGenerator(name=split, gen_kwargs={"arrays": arrays})
            for split, arrays in splits.items()
        ]

    def _generate_examples(self, arrays):
        images, labels = arrays
        for index, (image, label) in enumerate(zip(images, labels)):
            yield index, {"image": image, "label": label}


# skip_registration: tfds already registers these names for its downloading builders.
class FashionMnistFromIdx(_FromIdxFiles, mnist.FashionMNIST, skip_registration=True):
    name = "fashion_mnist"


class MnistFromIdx(_FromIdxFiles, mnist.MNIST, skip_registration=True):
    name = "mnist"


IDX_BUILDERS = {"fashion_mnist": FashionMnistFromIdx, "mnist": MnistFromIdx}
