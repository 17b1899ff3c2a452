"""Time of one training step of a small CNN: no norm, Keras BN, ours.

The three models differ only in the layer after each convolution. Their
`train_on_batch` steps are interleaved in one process, and the median is
printed with the ratio to the model without normalization, then written to
`benchmarks/results/`. The images are random (a step's time does not
depend on the pixels).

Whole `fit` epochs are not timed: on a shared or throttled machine their
few long samples catch the machine's pauses (epochs that snap to multiples
of one pause), and one pause more or less decides the ratio; many short
interleaved steps spread such pauses over all models alike. Usage:

    KERAS_BACKEND=tensorflow python benchmarks/bench_train_step.py [--repeats 60]
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
from timing import command_line, interleaved_medians, save

import keras_norms

NORMS = {
    "no normalization": None,
    "keras BatchNormalization": keras.layers.BatchNormalization,
    "keras_norms BatchNormalization": keras_norms.BatchNormalization,
}
TARGET = 1.2  # ours against the model without normalization


def small_cnn(norm_layer):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((28, 28, 1))
    x = inputs
    for filters in (32, 64, 64):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=norm_layer is None)(x)
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
    parser = command_line(__doc__, repeats=60)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    x = rng.uniform(size=(args.batch_size, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 10, args.batch_size)
    models = {name: small_cnn(layer) for name, layer in NORMS.items()}
    steps = interleaved_medians(
        {name: (lambda model=model: model.train_on_batch(x, y)) for name, model in models.items()},
        args.repeats,
    )
    baseline = steps["no normalization"]
    rows = [
        [name, f"{seconds * 1e3:.1f}", f"{seconds / baseline:.2f}"]
        for name, seconds in steps.items()
    ]
    header = ["model", "step ms", "vs no norm"]
    save("train_step", args.repeats, {"train step": (header, rows)})


if __name__ == "__main__":
    main()
