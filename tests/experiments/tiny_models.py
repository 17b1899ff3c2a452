"""Build functions for `--task custom` in the tests: `tests.experiments.tiny_models:NAME`."""

import keras

from experiments.models.norms import apply


def build(input_shape, num_classes, norm):
    """A small convolutional classifier with `norm` after its convolution."""
    inputs = keras.Input(input_shape)
    x = apply(inputs, keras.layers.Conv2D(8, 3, strides=2), norm, groups=4)
    x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def build_dense(input_shape, num_classes, norm):
    """A compiled dense classifier of flat inputs, with `norm` after its hidden layer."""
    inputs = keras.Input(input_shape)
    x = apply(inputs, keras.layers.Dense(16), norm, groups=4)
    x = keras.layers.ReLU()(x)
    model = keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(x))
    model.compile(
        optimizer=keras.optimizers.SGD(0.05, momentum=0.5),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def build_logits(input_shape, num_classes, norm):
    """An uncompiled dense classifier whose last layer outputs logits."""
    inputs = keras.Input(input_shape)
    x = keras.layers.ReLU()(apply(inputs, keras.layers.Dense(16), norm, groups=4))
    return keras.Model(inputs, keras.layers.Dense(num_classes)(x))


def compiled_with_schedule(input_shape, num_classes, norm):
    """A dense classifier compiled with a learning-rate schedule."""
    model = build_logits(input_shape, num_classes, norm)
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    model.compile(
        optimizer=keras.optimizers.SGD(schedule),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def not_a_model(input_shape, num_classes, norm):
    return [keras.layers.Dense(num_classes)]


def too_few_outputs(input_shape, num_classes, norm):
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Flatten()(inputs)))


def ignores_input_shape(input_shape, num_classes, norm):
    inputs = keras.Input((5,))
    return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(inputs))


_SHARED = keras.optimizers.Adam(0.01)


def shared_optimizer(input_shape, num_classes, norm):
    """A dense classifier compiled with one optimizer instance for every model."""
    model = build_logits(input_shape, num_classes, norm)
    model.compile(
        optimizer=_SHARED,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model
