"""Forward+backward time of WeightNormalization against the unwrapped layer.

Each wrapped layer and the same unwrapped layer run in one process,
interleaved, in training mode (so the data-init check is included), and the
script prints medians and the overhead ratio (wrapped / unwrapped). Usage:

    KERAS_BACKEND=tensorflow python benchmarks/bench_weight_norm.py [--repeats 30] [--jit]
"""

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_norms  # noqa: E402
from timing import interleaved_medians, markdown_table  # noqa: E402

# name: (layer factory, input shape, target overhead).
CASES = {
    "Dense(1024)": (lambda: keras.layers.Dense(1024), (256, 1024), 1.10),
    "Conv2D(64, 3)": (lambda: keras.layers.Conv2D(64, 3), (64, 28, 28, 32), 1.10),
    "LSTM(128)": (lambda: keras.layers.LSTM(128), (64, 50, 32), 1.25),
}


def training_step(layer, shape, jit_compile):
    """A traced forward+backward pass of `layer` in training mode."""
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=shape), tf.float32)
    dy = tf.constant(rng.normal(size=layer.compute_output_shape(shape)), tf.float32)

    @tf.function(jit_compile=jit_compile)
    def step():
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x, training=True) * dy)
        return tape.gradient(loss, [x] + layer.trainable_variables)

    return lambda: [g.numpy() for g in step()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--jit", action="store_true", help="compile with XLA")
    args = parser.parse_args()

    rows = []
    for name, (factory, shape, target) in CASES.items():
        plain = factory()
        plain.build(shape)
        wrapped = keras_norms.WeightNormalization(factory())
        wrapped.build(shape)
        medians = interleaved_medians(
            {
                "plain": training_step(plain, shape, args.jit),
                "weight_norm": training_step(wrapped, shape, args.jit),
            },
            args.repeats,
        )
        ratio = medians["weight_norm"] / medians["plain"]
        rows.append([
            name,
            str(shape),
            f"{medians['plain'] * 1e3:.2f}",
            f"{medians['weight_norm'] * 1e3:.2f}",
            f"{ratio:.3f}",
            f"<= {target:.2f}",
        ])
        print(" | ".join(rows[-1]), flush=True)
    print()
    print(
        markdown_table(
            ["layer", "input", "plain ms", "weight norm ms", "ratio", "target"],
            rows,
        )
    )


if __name__ == "__main__":
    main()
