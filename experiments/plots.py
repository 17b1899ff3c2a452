"""Matplotlib figures of training curves, drawn off-screen."""

import matplotlib

matplotlib.use("Agg")  # no display: figures go to MLflow and PNG files

from matplotlib import pyplot  # noqa: E402


def learning_curves(history, title):
    """Loss and every other metric of a Keras `History`, train beside validation."""
    names = [key for key in history if not key.startswith("val_")]
    figure, axes = pyplot.subplots(1, len(names), figsize=(4.5 * len(names), 3.5), squeeze=False)
    for axis, name in zip(axes[0], names):
        epochs = range(1, len(history[name]) + 1)
        axis.plot(epochs, history[name], marker="o", label="train")
        if f"val_{name}" in history:
            axis.plot(epochs, history[f"val_{name}"], marker="o", label="validation")
        axis.set_xlabel("epoch")
        axis.set_title(name)
        axis.legend()
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def overlaid_curves(curves, metric, title):
    """One line per label: `curves` maps a label to (epochs, means, stds)."""
    figure, axis = pyplot.subplots(figsize=(6, 4))
    for label, (epochs, means, stds) in curves.items():
        line, = axis.plot(epochs, means, marker="o", label=label)
        if any(stds):
            lower = [m - s for m, s in zip(means, stds)]
            upper = [m + s for m, s in zip(means, stds)]
            axis.fill_between(epochs, lower, upper, color=line.get_color(), alpha=0.2)
    axis.set_xlabel("epoch")
    axis.set_ylabel(metric)
    axis.set_title(title)
    axis.legend()
    figure.tight_layout()
    return figure


def close(figure):
    pyplot.close(figure)
