"""The weights the normalization layers share: gamma, beta, moving statistics.

A layer stores the arguments of a weight named `name` as the attributes
`<name>_initializer`, `<name>_regularizer` and `<name>_constraint`, the
Keras names, so these helpers can create and serialize any of them.
"""

from keras import constraints, initializers, ops, regularizers

_KINDS = {
    "initializer": initializers,
    "regularizer": regularizers,
    "constraint": constraints,
}


def set_arguments(layer, name, **arguments):
    """Stores the given arguments of weight `name` on `layer`, deserialized.

    For example `set_arguments(layer, "gamma", initializer="ones",
    regularizer=None, constraint=None)`.
    """
    for kind, value in arguments.items():
        setattr(layer, f"{name}_{kind}", _KINDS[kind].get(value))


def config(layer, *names):
    """The serialized arguments of the named weights, for `get_config`."""
    entries = {}
    for name in names:
        for kind, module in _KINDS.items():
            attribute = f"{name}_{kind}"
            if hasattr(layer, attribute):
                entries[attribute] = module.serialize(getattr(layer, attribute))
    return entries


def add_affine(layer, name, shape):
    """A trainable float32 weight (`gamma` or `beta`) from its arguments."""
    return layer.add_weight(
        shape=shape,
        name=name,
        initializer=getattr(layer, f"{name}_initializer"),
        regularizer=getattr(layer, f"{name}_regularizer"),
        constraint=getattr(layer, f"{name}_constraint"),
        trainable=True,
        autocast=False,
    )


def add_moving_statistic(layer, name, shape, initializer=None):
    """A non-trainable float32 moving average.

    Under a tf.distribute strategy the replicas' updates are averaged, so
    every replica holds the same statistics.
    """
    if initializer is None:
        initializer = getattr(layer, f"{name}_initializer")
    return layer.add_weight(
        shape=shape,
        name=name,
        initializer=initializer,
        trainable=False,
        autocast=False,
        aggregation="mean",
    )


def broadcast_shape(input_shape, axes):
    """The input's sizes on `axes` and 1 elsewhere: how weights broadcast."""
    return tuple(input_shape[a] if a in axes else 1 for a in range(len(input_shape)))


def as_broadcast(weight, dtype, shape):
    """`weight` cast to `dtype` and reshaped to `shape`; None stays None."""
    if weight is None:
        return None
    return ops.reshape(ops.cast(weight, dtype), shape)
