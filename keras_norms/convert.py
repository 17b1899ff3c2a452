"""Converts a Keras model to another normalization."""

import inspect

import keras

# Keras exports no name for the class of `keras.Model(inputs, outputs)`.
from keras.src.models.functional import Functional

from keras_norms import _weight_norm_layers as layer_types
from keras_norms.batch_normalization import BatchNormalization
from keras_norms.filter_response_normalization import (
    FilterResponseNormalization,
)
from keras_norms.instance_normalization import InstanceNormalization
from keras_norms.mean_only_batch_normalization import (
    MeanOnlyBatchNormalization,
)
from keras_norms.weight_normalization import WeightNormalization

NORMS = (
    "none",
    "batch",
    "instance",
    "weight",
    "weight_meanbn",
    "layer",
    "group",
    "frn",
)

# The layers `convert` replaces.
NORMALIZATIONS = (
    keras.layers.BatchNormalization,
    keras.layers.LayerNormalization,
    keras.layers.GroupNormalization,
    BatchNormalization,
    InstanceNormalization,
    MeanOnlyBatchNormalization,
    FilterResponseNormalization,
)

# Batch norms: from one to another, `momentum` and `epsilon` are kept.
BATCH_NORMALIZATIONS = (keras.layers.BatchNormalization, BatchNormalization)

# The classes of the new layers, where one class serves.
_NEW_LAYER = {
    "batch": BatchNormalization,
    "instance": InstanceNormalization,
    "layer": keras.layers.LayerNormalization,
    "frn": FilterResponseNormalization,
}

# Group count of `group` unless given: the largest divisor of the channel
# count up to this.
_MAX_GROUPS = 8


def convert(model, norm, **options):
    """Returns a copy of `model` with every normalization layer changed to `norm`.

    Keras's `BatchNormalization`, `LayerNormalization` and
    `GroupNormalization` and the layers of this package become the chosen
    normalization, on the same channel axis, under the same name:

    - `"batch"`: `keras_norms.BatchNormalization`;
    - `"instance"`: `keras_norms.InstanceNormalization`;
    - `"layer"`: `keras.layers.LayerNormalization`;
    - `"group"`: `keras.layers.GroupNormalization`, with `groups` the largest
      divisor of the channel count up to 8 unless given;
    - `"frn"`: `keras_norms.FilterResponseNormalization`, over every axis
      but the batch and channel axes (its `axis`);
    - `"none"`: the normalization is removed;
    - `"weight"`: the normalization is removed and the layer feeding it
      (a `Dense`, convolution or other layer `WeightNormalization` wraps) is
      wrapped in `keras_norms.WeightNormalization`;
    - `"weight_meanbn"`: as `"weight"`, with
      `keras_norms.MeanOnlyBatchNormalization` in place of the normalization.

    In a model with no normalization layer, `"weight"` and `"weight_meanbn"`
    wrap every layer `WeightNormalization` knows; the other norms have
    nothing to replace. Existing `WeightNormalization` wrappers are kept by
    the weight norms and folded into plain layers (`fold()`) by the others.

    From a batch norm (Keras's or this package's) to `"batch"`, the new
    layer keeps the old one's `momentum` and `epsilon` unless `options`
    give them.

    Every other layer is copied with its weights, so it computes what it
    did; replaced layers start from their initializers, and a wrapped layer
    keeps its kernel as the direction `v` with `g = ||v||`. Nested
    Sequential and Functional models are converted too. The result is a new,
    uncompiled model: compile it, train it, save and load it as any other.

    Args:
        model: a built Sequential or Functional `keras.Model`.
        norm: one of `"none"`, `"batch"`, `"instance"`, `"weight"`,
            `"weight_meanbn"`, `"layer"`, `"group"`, `"frn"`.
        **options: keyword arguments for every new layer, e.g.
            `momentum=0.9` for `"batch"`, `groups=4` for `"group"`,
            `data_init=False` for the weight norms. Not with `"none"`.

    Returns:
        A new `keras.Model` of the same kind, inputs and outputs.

    Raises:
        ValueError: for an unknown `norm` or option, a subclassed or unbuilt
            model, a model with nothing to convert, or a normalization whose
            input does not come from a layer that weight norm can wrap.

    Example:

    >>> model = keras.Sequential([keras.Input((32, 32, 3)),
    ...     keras.layers.Conv2D(16, 3), keras.layers.BatchNormalization(),
    ...     keras.layers.ReLU(), keras.layers.GlobalAveragePooling2D(),
    ...     keras.layers.Dense(10)])
    >>> instance = keras_norms.convert(model, "instance")
    >>> weight = keras_norms.convert(model, "weight", data_init=True)
    """
    if norm not in NORMS:
        raise ValueError(f"Unknown normalization: norm={norm!r}. Choose one of: {', '.join(NORMS)}")
    _check_options(norm, options)
    _check_convertible(model)
    converter = _Converter(norm, options, not _holds_normalization(model))
    converted = converter.model(model)
    if not converter.replaced and not converter.wrapped:
        what = (
            "no normalization layer and no layer that WeightNormalization can wrap"
            if norm in ("weight", "weight_meanbn")
            else "no normalization layer to replace"
        )
        raise ValueError(
            f"Cannot convert model '{model.name}' to norm={norm!r}: it holds "
            f"{what}. Normalization layers: "
            f"{', '.join(c.__name__ for c in NORMALIZATIONS)}."
        )
    return converted


def _check_options(norm, options):
    """Raises a ValueError naming an option the new layers do not take."""
    if not options:
        return
    if norm == "none":
        raise ValueError(
            f"norm='none' adds no layer to take options. Received: {', '.join(options)}"
        )
    # Building one layer with the options is the check that never drifts
    # from the layers' own arguments.
    try:
        if norm in ("weight", "weight_meanbn"):
            WeightNormalization(keras.layers.Dense(1), **options)
        elif norm == "group":
            keras.layers.GroupNormalization(**{"groups": 1, **options})
        else:
            _NEW_LAYER[norm](**options)
    except TypeError as error:
        raise ValueError(
            f"An option of convert(..., {norm!r}) is not an argument of the "
            f"new layers: {error}. Received: options={options!r}"
        ) from None


def _check_convertible(model):
    if not isinstance(model, keras.Model):
        raise ValueError(f"Argument `model` must be a keras.Model. Received: model={model!r}")
    kind = type(model)
    if kind not in (keras.Sequential, Functional):
        raise ValueError(
            f"Cannot convert model '{model.name}' ({kind.__name__}): it is a "
            "subclassed model, whose own code (its call(), train_step() or "
            "constructor) convert can neither see nor rewrite. Build it as a "
            "Sequential or Functional model, or change the normalization "
            "layers in its code."
        )
    if not model.built or not model.inputs:
        raise ValueError(
            f"Cannot convert model '{model.name}': it is not built. Give it "
            "an Input, or call it on a batch, first."
        )


class _Converter:
    """Converts models, nested ones included, layer by layer."""

    def __init__(self, norm, options, wrap_all):
        self.norm = norm
        self.options = options
        # Weight norm in a model with no normalization: wrap every layer.
        self.wrap_all = wrap_all
        self.replaced = 0
        self.wrapped = 0

    def model(self, model):
        normalizations = [layer for layer in model.layers if isinstance(layer, NORMALIZATIONS)]
        producers = _producers(model)
        to_wrap = set()
        if self.norm in ("weight", "weight_meanbn"):
            if self.wrap_all:
                to_wrap = {id(layer) for layer in model.layers if _wrappable(layer)}
            for layer in normalizations:
                to_wrap.add(id(self._producer(model, layer, producers)))
        removed = set()

        def clone(layer):
            if isinstance(layer, keras.Model):
                _check_convertible(layer)
                return self.model(layer)
            if isinstance(layer, NORMALIZATIONS):
                self.replaced += 1
                new = self._replacement(layer)
                if new is None:
                    new = keras.layers.Identity(name=layer.name)
                    removed.add(id(new))
                else:
                    self._build_like(new, layer)
                return new
            if id(layer) in to_wrap:
                return self._wrapped(layer)
            if isinstance(layer, WeightNormalization) and self.norm not in (
                "weight",
                "weight_meanbn",
            ):
                return layer.fold()
            return _copy(layer)

        if isinstance(model, keras.Sequential):
            layers = [clone(layer) for layer in model.layers]
            (inputs,) = model.inputs
            return keras.Sequential(
                [keras.Input(batch_shape=inputs.shape, dtype=inputs.dtype)]
                + [layer for layer in layers if id(layer) not in removed],
                name=model.name,
            )

        def call(layer, *args, **kwargs):
            if id(layer) in removed:
                return args[0]
            # Keras passes `mask` and `training` on to layers whose call()
            # takes them; a new layer (a folded wrapper) may take neither.
            accepted = inspect.signature(layer.call).parameters
            for name in ("mask", "training"):
                if name not in accepted:
                    kwargs.pop(name, None)
            return layer(*args, **kwargs)

        return keras.models.clone_model(model, clone_function=clone, call_function=call)

    def _producer(self, model, normalization, producers):
        """The layer whose output `normalization` takes, checked wrappable."""
        names = producers.get(normalization.name, [])
        source = model.get_layer(names[0]) if len(names) == 1 else None
        if source is None or not (_wrappable(source) or isinstance(source, WeightNormalization)):
            feeding = (
                f"layer {layer_types.describe(source)}"
                if source is not None
                else "the model's input"
                if not names
                else f"several layers ({', '.join(names)})"
            )
            raise ValueError(
                f"Cannot convert layer {layer_types.describe(normalization)} "
                f"to norm={self.norm!r}: its input comes from {feeding}, "
                "not from a layer WeightNormalization can wrap (Dense, "
                "EinsumDense, convolutions, SimpleRNN, LSTM, GRU)."
            )
        return source

    def _replacement(self, layer):
        """The layer that takes `layer`'s place, or None to remove it."""
        if self.norm in ("none", "weight"):
            return None
        axis = _channel_axis(layer)
        kwargs = {"name": layer.name, "dtype": layer.dtype_policy, "axis": axis}
        if self.norm == "frn":
            rank = len(layer.get_build_config()["input_shape"])
            kwargs["axis"] = [a for a in range(1, rank) if a != axis % rank]
        if self.norm == "batch" and isinstance(layer, BATCH_NORMALIZATIONS):
            kwargs["momentum"] = layer.momentum
            kwargs["epsilon"] = layer.epsilon
        if self.norm == "weight_meanbn":
            # The options are the wrapper's.
            return MeanOnlyBatchNormalization(**kwargs)
        if self.norm == "group":
            groups = self.options.get("groups")
            if groups is None:
                groups = _default_groups(_channels(layer, axis))
            return keras.layers.GroupNormalization(**{**kwargs, **self.options, "groups": groups})
        return _NEW_LAYER[self.norm](**{**kwargs, **self.options})

    def _build_like(self, new, layer):
        """Builds `new` for `layer`'s input, naming both if it cannot."""
        try:
            new.build_from_config(layer.get_build_config())
        except ValueError as error:
            raise ValueError(
                f"Cannot convert layer {layer_types.describe(layer)} to norm={self.norm!r}: {error}"
            ) from None

    def _wrapped(self, layer):
        self.wrapped += 1
        if isinstance(layer, WeightNormalization):
            return _copy(layer)
        inner = _copy(layer)
        # Built and holding its weights, the layer gives `g = ||v||` when
        # the wrapper builds around it.
        return WeightNormalization(inner, name=f"weight_normalization_{layer.name}", **self.options)


def _copy(layer):
    """A new layer of the same config, built, with `layer`'s weights."""
    try:
        new = type(layer).from_config(layer.get_config())
    except Exception as error:
        raise ValueError(
            f"Cannot copy layer {layer_types.describe(layer)}: rebuilding it "
            f"from its get_config() failed ({error})."
        ) from None
    build_config = layer.get_build_config()
    if build_config is not None:
        new.build_from_config(build_config)
    new.set_weights(layer.get_weights())
    return new


def _wrappable(layer):
    try:
        layer_types.check_wrappable(layer)
    except ValueError:
        return False
    return True


def _holds_normalization(model):
    return any(
        isinstance(layer, NORMALIZATIONS)
        or (isinstance(layer, keras.Model) and _holds_normalization(layer))
        for layer in model.layers
    )


def _producers(model):
    """Maps each layer's name to the names of the layers feeding it."""
    if isinstance(model, keras.Sequential):
        layers = model.layers
        producers = {layers[0].name: []} if layers else {}
        for before, after in zip(layers, layers[1:]):
            producers[after.name] = [before.name]
        return producers
    producers = {}
    for layer in model.get_config()["layers"]:
        names = []
        for node in layer["inbound_nodes"]:
            names.extend(_history_names(node))
        producers[layer["name"]] = (
            [
                name
                for name in dict.fromkeys(names)
                if not isinstance(model.get_layer(name), keras.layers.InputLayer)
            ]
            if names
            else []
        )
    return producers


def _history_names(node):
    """Names of the layers whose tensors a serialized call node takes."""
    if isinstance(node, dict):
        if node.get("class_name") == "__keras_tensor__":
            return [node["config"]["keras_history"][0]]
        return [name for value in node.values() for name in _history_names(value)]
    if isinstance(node, (list, tuple)):
        return [name for value in node for name in _history_names(value)]
    return []


def _channel_axis(layer):
    """The axis `layer` keeps one scale per entry of, as an int."""
    if isinstance(layer, FilterResponseNormalization):
        # Its `axis` lists the spatial axes; the channel axis is the other.
        rank = len(layer.get_build_config()["input_shape"])
        spatial = {a % rank for a in layer.axis}
        (axis,) = [a for a in range(1, rank) if a not in spatial]
        return axis
    axis = layer.axis
    if isinstance(axis, (list, tuple)):
        # LayerNormalization over several trailing axes: the last one is
        # the channel axis of a channels-last model.
        axis = axis[-1]
    return axis


def _channels(layer, axis):
    shape = layer.get_build_config()["input_shape"]
    return shape[axis]


def _default_groups(channels):
    return max(g for g in range(1, min(_MAX_GROUPS, channels) + 1) if channels % g == 0)
