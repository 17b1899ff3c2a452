"""Datasets: the offline IDX path, checked files, fast and clear failures."""

import gzip
import time

import numpy as np
import pytest

from experiments.data import images as data
from experiments.errors import DataError
from experiments.data.idx import read_split
from tests.experiments.conftest import TINY


def test_offline_fashion_mnist_is_prepared_from_the_debian_idx_files(
    tiny_idx_dir, tmp_path, offline, monkeypatch
):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    monkeypatch.setitem(
        data.DATASETS, "fashion_mnist",
        data.DatasetSpec("http://unused.invalid/", idx_dir=str(tiny_idx_dir)),
    )
    images = data.load_images("fashion_mnist", batch_size=50, seed=0, train_size=100,
                              val_size=60)
    assert images.sizes == {"train": 100, "val": 60, "test": TINY["test"]}
    assert images.image_shape == (28, 28, 1) and images.num_classes == 10
    x, y = next(iter(images.train))
    assert x.shape == (50, 28, 28, 1) and x.dtype.name == "float32"
    assert 0.0 <= float(np.min(x)) and float(np.max(x)) <= 1.0 and float(np.max(x)) > 0.5
    # The test split holds exactly the IDX file's examples (tfds stores them shuffled).
    expected = read_split(tiny_idx_dir, "test")
    loaded = [(np.round(x.numpy() * 255).astype(np.uint8).tobytes(), int(y))
              for xs, ys in images.test for x, y in zip(xs, ys)]
    assert sorted(loaded) == sorted((x.tobytes(), int(y)) for x, y in zip(*expected))

def test_data_dir_reads_the_idx_files_given(tiny_idx_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    builder = data.prepared_builder("fashion_mnist", data_dir=tiny_idx_dir)
    assert builder.info.splits["train"].num_examples == TINY["train"]


def _copy_with(tiny_idx_dir, target, name, transform):
    for path in tiny_idx_dir.iterdir():
        (target / path.name).write_bytes(path.read_bytes())
    (target / name).write_bytes(transform((tiny_idx_dir / name).read_bytes()))


@pytest.mark.parametrize("damage, message", [
    (lambda raw: raw[: len(raw) // 2], "Truncated or corrupt"),  # cut gzip stream
    (lambda raw: gzip.compress(gzip.decompress(raw)[:-100]), "header announces"),
    (lambda raw: gzip.compress(b"\0\0\x08\x01" + gzip.decompress(raw)[4:]), "magic number"),
])
def test_a_damaged_idx_file_is_named_in_a_clear_error(
    tiny_idx_dir, tmp_path, monkeypatch, damage, message
):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    broken = tmp_path / "broken"
    broken.mkdir()
    _copy_with(tiny_idx_dir, broken, "train-images-idx3-ubyte.gz", damage)
    with pytest.raises(DataError, match=message) as error:
        data.prepared_builder("fashion_mnist", data_dir=broken)
    assert "train-images-idx3-ubyte.gz" in str(error.value)


def test_a_missing_data_dir_is_refused(tmp_path):
    with pytest.raises(DataError, match="not found"):
        data.prepared_builder("fashion_mnist", data_dir=tmp_path / "nowhere")


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_unavailable_offline_dataset_fails_fast_saying_how_to_get_it(
    name, tmp_path, offline, monkeypatch
):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    start = time.perf_counter()
    with pytest.raises(DataError, match="To get it: run once with network access"):
        data.prepared_builder(name)
    assert time.perf_counter() - start < 5


def test_fashion_mnist_without_network_nor_package_says_how_to_get_it(
    tmp_path, offline, monkeypatch
):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    monkeypatch.setitem(data.DATASETS, "fashion_mnist", data.DatasetSpec(
        "http://unused.invalid/", idx_dir=str(tmp_path / "absent"),
        apt_package="dataset-fashion-mnist"))
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist.*--data-dir"):
        data.prepared_builder("fashion_mnist")


def test_network_check_gives_up_within_its_timeout():
    start = time.perf_counter()
    # 192.0.2.0/24 is reserved for documentation: nothing answers there.
    assert not data.network_reachable("http://192.0.2.1/", timeout=1)
    assert not data.network_reachable("https://nonexistent.invalid/", timeout=1)
    assert time.perf_counter() - start < 3
