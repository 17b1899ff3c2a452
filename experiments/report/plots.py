"""Matplotlib figures of training curves, drawn off-screen, and grids of sample images."""

import matplotlib
import numpy as np

matplotlib.use("Agg")  # no display: figures go to MLflow and PNG files

from matplotlib import pyplot  # noqa: E402  (after choosing the Agg backend)
from matplotlib.ticker import MaxNLocator  # noqa: E402  (after choosing the Agg backend)

from ..tracking.colors import norm_color  # noqa: E402  (after choosing the Agg backend)


def _epoch_axis(axis):
    """Labels the x axis as epochs, with whole-number ticks only."""
    axis.set_xlabel("epoch")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))


def learning_curves(history, title):
    """Loss and every other metric of a Keras `History`, train beside validation."""
    names = [key for key in history if not key.startswith("val_")]
    figure, axes = pyplot.subplots(1, len(names), figsize=(4.5 * len(names), 3.5), squeeze=False)
    for axis, name in zip(axes[0], names):
        epochs = range(1, len(history[name]) + 1)
        axis.plot(epochs, history[name], marker="o", label="train")
        if f"val_{name}" in history:
            axis.plot(epochs, history[f"val_{name}"], marker="o", label="validation")
        _epoch_axis(axis)
        axis.set_title(name)
        axis.legend()
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def overlaid_curves(curves, metric, title):
    """One line per label: `curves` maps a label (a norm) to (epochs, means,
    stds); each norm in its colour of the MLflow UI."""
    figure, axis = pyplot.subplots(figsize=(6, 4))
    for label, (epochs, means, stds) in curves.items():
        (line,) = axis.plot(epochs, means, marker="o", label=label, color=norm_color(label))
        if any(stds):
            lower = [m - s for m, s in zip(means, stds)]
            upper = [m + s for m, s in zip(means, stds)]
            axis.fill_between(epochs, lower, upper, color=line.get_color(), alpha=0.2)
    _epoch_axis(axis)
    axis.set_ylabel(metric)
    axis.set_title(title)
    axis.legend()
    figure.tight_layout()
    return figure


def image_grid(images, columns, padding=2):
    """Tiles images `(n, height, width[, 1])` in [0, 1] into one uint8 grayscale
    image, row by row, with `padding` white pixels between them."""
    images = np.asarray(images, "float32").reshape(len(images), *np.shape(images)[1:3])
    rows = -(-len(images) // columns)
    height, width = images.shape[1:]
    grid = np.ones(
        (rows * (height + padding) + padding, columns * (width + padding) + padding), "float32"
    )
    for index, image in enumerate(images):
        top = padding + (index // columns) * (height + padding)
        left = padding + (index % columns) * (width + padding)
        grid[top : top + height, left : left + width] = image
    return np.round(np.clip(grid, 0.0, 1.0) * 255).astype("uint8")


def close(figure):
    pyplot.close(figure)
