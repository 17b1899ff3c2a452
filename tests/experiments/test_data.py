"""Datasets: the offline IDX path, checked files, fast and clear failures."""

import gzip
import time

import numpy as np
import pytest

from experiments.data import images as data
from experiments.data.idx import IDX_FILES, read_split
from experiments.errors import DataError
from tests.experiments.conftest import TINY, write_idx_subset


def test_offline_fashion_mnist_is_prepared_from_the_debian_idx_files(
    tiny_idx_dir, tmp_path, offline, monkeypatch
):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    monkeypatch.setitem(
        data.DATASETS,
        "fashion_mnist",
        data.DatasetSpec("http://unused.invalid/", idx_dir=str(tiny_idx_dir)),
    )
    images = data.load_images("fashion_mnist", batch_size=50, seed=0, train_size=100, val_size=60)
    assert images.sizes == {"train": 100, "val": 60, "test": TINY["test"]}
    assert images.image_shape == (28, 28, 1) and images.num_classes == 10
    x, y = next(iter(images.train))
    assert x.shape == (50, 28, 28, 1) and x.dtype.name == "float32"
    assert 0.0 <= float(np.min(x)) and float(np.max(x)) <= 1.0 and float(np.max(x)) > 0.5
    # The test split holds exactly the IDX file's examples (tfds stores them shuffled).
    expected = read_split(tiny_idx_dir, "test")
    loaded = [
        (np.round(x.numpy() * 255).astype(np.uint8).tobytes(), int(y))
        for xs, ys in images.test
        for x, y in zip(xs, ys)
    ]
    assert sorted(loaded) == sorted((x.tobytes(), int(y)) for x, y in zip(*expected))


def test_data_dir_reads_the_idx_files_given(tiny_idx_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    builder = data.prepared_builder("fashion_mnist", data_dir=tiny_idx_dir)
    assert builder.info.splits["train"].num_examples == TINY["train"]


def _copy_with(tiny_idx_dir, target, name, transform):
    for path in tiny_idx_dir.iterdir():
        (target / path.name).write_bytes(path.read_bytes())
    (target / name).write_bytes(transform((tiny_idx_dir / name).read_bytes()))


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda raw: raw[: len(raw) // 2], "Truncated or corrupt"),  # cut gzip stream
        (lambda raw: gzip.compress(gzip.decompress(raw)[:-100]), "header announces"),
        (lambda raw: gzip.compress(b"\0\0\x08\x01" + gzip.decompress(raw)[4:]), "magic number"),
    ],
)
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
    monkeypatch.setitem(
        data.DATASETS,
        "fashion_mnist",
        data.DatasetSpec(
            "http://unused.invalid/",
            idx_dir=str(tmp_path / "absent"),
            apt_package="dataset-fashion-mnist",
        ),
    )
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist.*--data-dir"):
        data.prepared_builder("fashion_mnist")


def test_network_check_gives_up_within_its_timeout():
    start = time.perf_counter()
    # 192.0.2.0/24 is reserved for documentation: nothing answers there.
    assert not data.network_reachable("http://192.0.2.1/", timeout=1)
    assert not data.network_reachable("https://nonexistent.invalid/", timeout=1)
    assert time.perf_counter() - start < 3


def test_a_truncated_file_in_data_dir_fails_even_when_the_dataset_is_cached(
    tiny_idx_dir, tiny_tfds_dir, tmp_path, monkeypatch
):
    # The tiny Fashion-MNIST is prepared in the tfds directory, as after any earlier run.
    monkeypatch.setenv("TFDS_DATA_DIR", str(tiny_tfds_dir))
    assert data.prepared_builder("fashion_mnist").is_prepared()
    broken = tmp_path / "broken"
    broken.mkdir()
    _copy_with(tiny_idx_dir, broken, "t10k-labels-idx1-ubyte.gz", lambda raw: raw[:-20])
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz"):
        data.prepared_builder("fashion_mnist", data_dir=broken)


def test_each_data_dir_is_prepared_into_its_own_cache(tiny_idx_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    smaller = tmp_path / "smaller"
    smaller.mkdir()
    for split, names in IDX_FILES.items():
        for name in names:
            write_idx_subset(tiny_idx_dir / name, smaller / name, TINY[split] // 2)
    full = data.prepared_builder("fashion_mnist", data_dir=tiny_idx_dir)
    half = data.prepared_builder("fashion_mnist", data_dir=smaller)
    assert full.info.splits["train"].num_examples == TINY["train"]
    assert half.info.splits["train"].num_examples == TINY["train"] // 2
    assert full.data_dir != half.data_dir
    # A file changed in place is a new cache, read again.
    write_idx_subset(
        tiny_idx_dir / "t10k-images-idx3-ubyte.gz", smaller / "t10k-images-idx3-ubyte.gz", 10
    )
    with pytest.raises(DataError, match="80 images but .* 10 labels|10 images but .* 80 labels"):
        data.prepared_builder("fashion_mnist", data_dir=smaller)


def test_an_empty_data_dir_names_the_missing_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="has no train-images-idx3-ubyte.gz: it must hold"):
        data.prepared_builder("fashion_mnist", data_dir=tmp_path / "empty")


@pytest.mark.parametrize(
    "sizes, message",
    [
        (
            {"train_size": 600, "val_size": 128, "test_size": None},
            "--train-size 600 is more than the 512 training examples",
        ),
        (
            {"train_size": None, "val_size": 640, "test_size": None},
            "640 validation examples leave none to train on",
        ),
        (
            {"train_size": 100, "val_size": 100, "test_size": 161},
            "161 test examples asked for, fashion_mnist has 160",
        ),
    ],
)
def test_split_sizes_beyond_the_dataset_are_refused(tiny_tfds_dir, monkeypatch, sizes, message):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tiny_tfds_dir))
    with pytest.raises(DataError, match=message):
        data.check_split_sizes(data.prepared_builder("fashion_mnist"), sizes)
