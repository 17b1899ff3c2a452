"""Forward+backward time of WeightNormalization against the unwrapped layer.

Each wrapped layer and the same unwrapped layer run in one process,
interleaved, in training mode (so the data-init check is included), on the
running backend; the script prints medians and the overhead ratio (wrapped /
unwrapped) and writes them to `benchmarks/results/`. Usage:

    KERAS_BACKEND=jax python benchmarks/bench_weight_norm.py [--repeats 30]
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
from timing import command_line, compile_modes, interleaved_medians, layer_step, save

import keras_norms

# (name, layer factory, input shape, target overhead or None). Dense(1024)
# also runs on a larger batch, which shows how much of its overhead is the
# passes over the kernel that the batch does not share in.
CASES = (
    ("Dense(1024)", lambda: keras.layers.Dense(1024), (256, 1024), 1.10),
    ("Dense(1024)", lambda: keras.layers.Dense(1024), (2048, 1024), None),
    ("Conv2D(64, 3)", lambda: keras.layers.Conv2D(64, 3), (64, 28, 28, 32), 1.10),
    ("LSTM(128)", lambda: keras.layers.LSTM(128), (64, 50, 32), 1.25),
)


def main():
    args = command_line(__doc__).parse_args()

    rows = []
    for name, factory, shape, target in CASES:
        for mode, compiled in compile_modes():
            medians = interleaved_medians(
                {
                    "plain": layer_step(factory(), shape, compiled),
                    "weight_norm": layer_step(
                        keras_norms.WeightNormalization(factory()),
                        shape,
                        compiled,
                    ),
                },
                args.repeats,
            )
            ratio = medians["weight_norm"] / medians["plain"]
            rows.append(
                [
                    name,
                    str(shape),
                    mode,
                    f"{medians['plain'] * 1e3:.2f}",
                    f"{medians['weight_norm'] * 1e3:.2f}",
                    f"{ratio:.2f}",
                    "-" if target is None else f"<= {target:.2f}",
                ]
            )
            print(" | ".join(rows[-1]), flush=True)
    header = ["layer", "input", "mode", "plain ms", "weight norm ms", "ratio", "target"]
    save("weight_norm", args.repeats, {"weight norm": (header, rows)})


if __name__ == "__main__":
    main()
