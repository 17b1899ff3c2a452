"""Time of one `model.fit` epoch of a small CNN: no norm, Keras BN, ours.

The three models differ only in the layer after each convolution. Their
epochs are interleaved in one process and the median is printed with the
ratio to the model without normalization. The images are random bytes of
Fashion-MNIST's shape (the time of an epoch does not depend on the pixels).

Whole epochs are long enough to catch pauses of the machine itself, so the
script also times single training steps (`train_on_batch`), interleaved over
many rounds: their medians are the steadier figure.

    KERAS_BACKEND=tensorflow python benchmarks/bench_fit_epoch.py [--epochs 5]
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_norms  # noqa: E402
from timing import interleaved_medians  # noqa: E402
from timing import markdown_table  # noqa: E402
from timing import setup_line  # noqa: E402

NORMS = {
    "no normalization": None,
    "keras BatchNormalization": keras.layers.BatchNormalization,
    "keras_norms BatchNormalization": keras_norms.BatchNormalization,
}


def small_cnn(norm_layer):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((28, 28, 1))
    x = inputs
    for filters in (32, 64, 64):
        x = keras.layers.Conv2D(
            filters, 3, padding="same", use_bias=norm_layer is None
        )(x)
        if norm_layer is not None:
            x = norm_layer()(x)
        x = keras.layers.ReLU()(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(10)(x)
    model = keras.Model(inputs, outputs)
    model.compile(
        keras.optimizers.Adam(1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--examples", type=int, default=20000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()

    rng = np.random.RandomState(0)
    images = rng.randint(0, 256, (args.examples, 28, 28, 1)).astype("float32")
    labels = rng.randint(0, 10, args.examples)
    dataset = (
        tf.data.Dataset.from_tensor_slices((images / 255.0, labels))
        .batch(args.batch_size)
        .cache()
        .prefetch(tf.data.AUTOTUNE)
    )
    models = {name: small_cnn(layer) for name, layer in NORMS.items()}
    for model in models.values():
        model.fit(dataset, epochs=1, verbose=0)  # traces and warms up

    times = {name: [] for name in models}
    for _ in range(args.epochs):
        for name, model in models.items():
            start = time.perf_counter()
            model.fit(dataset, epochs=1, verbose=0)
            times[name].append(time.perf_counter() - start)

    x, y = next(iter(dataset))
    steps = interleaved_medians(
        {
            name: (lambda model=model: model.train_on_batch(x, y))
            for name, model in models.items()
        },
        args.steps,
    )

    baseline = np.median(times["no normalization"])
    rows = [
        [
            name,
            f"{np.median(ts):.2f}",
            f"{np.median(ts) / baseline:.2f}",
            f"{steps[name] * 1e3:.1f}",
            f"{steps[name] / steps['no normalization']:.2f}",
        ]
        for name, ts in times.items()
    ]
    print(
        f"{setup_line()}; {args.examples} images of 28x28x1, "
        f"batch {args.batch_size}, median of {args.epochs} epochs and of "
        f"{args.steps} steps"
    )
    print(markdown_table(
        ["model", "epoch s", "vs no norm", "step ms", "vs no norm"], rows
    ))


if __name__ == "__main__":
    main()
