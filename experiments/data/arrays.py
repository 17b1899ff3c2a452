"""Classification data from a NumPy `.npz` file, as batched `tf.data` pipelines.

The file holds `x_train`, `y_train`, `x_test` and `y_test`: inputs of any
shape (the same for train and test; 8-bit pixels are scaled to [0, 1]) and
class ids from 0. The validation examples are held out from the training
arrays at random, each class in proportion (`stratified_holdout`).
"""

import zipfile
from pathlib import Path

import numpy as np

from ..errors import DataError
from .images import ImageData, batched, check_sizes

ARRAYS = ("x_train", "y_train", "x_test", "y_test")


def read_npz(path):
    """The four arrays of the `.npz` file `path` (name -> array), checked;
    raises DataError naming the first problem."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"--data {path}: no such file")
    if not zipfile.is_zipfile(path):
        raise DataError(
            f"--data {path} is not a NumPy .npz file (save one with "
            "numpy.savez(path, x_train=..., y_train=..., x_test=..., y_test=...))"
        )
    with np.load(path, allow_pickle=False) as archive:
        missing = [name for name in ARRAYS if name not in archive.files]
        if missing:
            held = ", ".join(archive.files) or "nothing"
            raise DataError(
                f"--data {path} has no {', '.join(missing)}: it must hold "
                f"{', '.join(ARRAYS)} (it holds: {held})"
            )
        arrays = {name: archive[name] for name in ARRAYS}
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim < 2 or not np.issubdtype(x.dtype, np.number):
            raise DataError(
                f"--data {path}: x_{split} must be numbers, one example per row; "
                f"got shape {x.shape}, dtype {x.dtype}"
            )
        if len(x) != len(y):
            raise DataError(
                f"--data {path}: x_{split} has {len(x)} examples and y_{split} "
                f"{len(y)}; they must be as many"
            )
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer) or (y.size and y.min() < 0):
            raise DataError(
                f"--data {path}: y_{split} must hold class ids, integers from 0, "
                f"one per example; got shape {y.shape}, dtype {y.dtype}"
            )
    if arrays["x_train"].shape[1:] != arrays["x_test"].shape[1:]:
        raise DataError(
            f"--data {path}: x_train's examples have shape "
            f"{arrays['x_train'].shape[1:]}, x_test's {arrays['x_test'].shape[1:]}; "
            "they must be the same"
        )
    return arrays


def input_shape_and_classes(arrays):
    """(input shape, number of classes) of `read_npz`'s arrays."""
    labels = np.concatenate([arrays["y_train"], arrays["y_test"]])
    return tuple(arrays["x_train"].shape[1:]), int(labels.max()) + 1


def check_npz_sizes(path, config):
    """Refuses split sizes of `config` that the file `path` cannot serve
    (`val_size` a count or a fraction, `validation_count`)."""
    arrays = read_npz(path)
    total = len(arrays["x_train"])
    check_sizes(
        Path(path).name,
        total,
        len(arrays["x_test"]),
        {**config, "val_size": validation_count(config["val_size"], total)},
    )
    return arrays


def stratified_holdout(labels, count, seed):
    """Splits the indices of `labels` into (kept, held out): `count` held out,
    each class in proportion to its share of the examples, drawn at random
    with `seed`; both in a random order.

    Each class's examples, shuffled, sit at evenly spaced points
    `(k + 0.5) / class size` in [0, 1]; the `count` lowest points are held
    out, so every class gives its share, rounded, whatever order the
    examples come in (a file sorted by class included).
    """
    labels = np.asarray(labels)
    order = np.random.default_rng(seed).permutation(len(labels))
    points = np.empty(len(labels))
    for label in np.unique(labels):
        members = order[labels[order] == label]
        points[members] = (np.arange(len(members)) + 0.5) / len(members)
    ranked = order[np.argsort(points[order], kind="stable")]
    held = np.zeros(len(labels), bool)
    held[ranked[:count]] = True
    return order[~held[order]], ranked[:count]


def validation_count(val_size, train_total):
    """The validation examples `val_size` asks for out of `train_total`: a
    count as it is, a fraction (below 1) of the training examples rounded, at
    least one."""
    if isinstance(val_size, float) and val_size < 1:
        return max(1, round(val_size * train_total))
    return int(val_size)


def load_npz(path, *, batch_size, seed, train_size=None, val_size=5000, test_size=None):
    """Returns `ImageData` of the `.npz` file `path`, as `load_images` does for
    a tensorflow-datasets dataset. The validation examples (`val_size`, a
    count or a fraction of the training arrays) are held out at random with
    `seed`, each class in proportion (`stratified_holdout`); `train_size`
    takes that many of the rest, at random too."""
    import tensorflow as tf

    path = Path(path).resolve()
    arrays = check_npz_sizes(
        path, {"train_size": train_size, "val_size": val_size, "test_size": test_size}
    )
    x_train, y_train = arrays["x_train"], arrays["y_train"]
    val_size = validation_count(val_size, len(x_train))
    kept, held = stratified_holdout(y_train, val_size, seed)
    kept = kept[:train_size] if train_size else kept
    roles = {
        "train": (x_train[kept], y_train[kept]),
        "val": (x_train[held], y_train[held]),
        "test": (arrays["x_test"][:test_size], arrays["y_test"][:test_size]),
    }
    pipelines = {role: tf.data.Dataset.from_tensor_slices(pair) for role, pair in roles.items()}
    input_shape, num_classes = input_shape_and_classes(arrays)
    return ImageData(
        name=path.stem,
        train=batched(pipelines["train"], batch_size, seed=seed),
        val=batched(pipelines["val"], batch_size),
        test=batched(pipelines["test"], batch_size),
        splits={
            "train": f"train[{len(kept)} not held out, seed {seed}]",
            "val": f"train[{val_size} held out by class, seed {seed}]",
            "test": f"test[:{test_size}]" if test_size else "test",
        },
        sizes={role: len(pair[0]) for role, pair in roles.items()},
        image_shape=input_shape,
        num_classes=num_classes,
        source=str(path),
    )
