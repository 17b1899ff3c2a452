"""Forward+backward time of keras-norms layers against the Keras built-ins.

Runs every pair in one process, interleaved, with and without XLA, and prints
medians and ratios (ours / Keras). Usage:

    KERAS_BACKEND=tensorflow python benchmarks/bench_layers.py [--repeats 30]
"""

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

import keras_norms  # noqa: E402
from timing import interleaved_medians  # noqa: E402
from timing import markdown_table  # noqa: E402
from timing import setup_line  # noqa: E402
from timing import training_step  # noqa: E402

SHAPES = {"image (128, 28, 28, 32)": (128, 28, 28, 32), "sequence (64, 100, 128)": (64, 100, 128)}

PAIRS = {
    "BatchNormalization": (
        keras_norms.BatchNormalization,
        keras.layers.BatchNormalization,
        "keras BatchNormalization",
    ),
    "InstanceNormalization": (
        keras_norms.InstanceNormalization,
        lambda: keras.layers.GroupNormalization(groups=-1),
        "keras GroupNormalization(groups=-1)",
    ),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()

    rows = []
    for layer_name, (ours, theirs, theirs_name) in PAIRS.items():
        for shape_name, shape in SHAPES.items():
            for jit in (False, True):
                medians = interleaved_medians(
                    {
                        "ours": training_step(ours(), shape, jit),
                        "keras": training_step(theirs(), shape, jit),
                    },
                    args.repeats,
                )
                rows.append([
                    layer_name,
                    theirs_name,
                    shape_name,
                    "yes" if jit else "no",
                    f"{medians['ours'] * 1e3:.2f}",
                    f"{medians['keras'] * 1e3:.2f}",
                    f"{medians['ours'] / medians['keras']:.2f}",
                ])
                print(" | ".join(rows[-1]), flush=True)
    print()
    print(f"{setup_line()}; median of {args.repeats}, "
          "forward+backward in training mode, float32")
    print(markdown_table(
        ["ours", "vs", "input", "XLA", "ours ms", "keras ms", "ratio"], rows
    ))


if __name__ == "__main__":
    main()
