"""The names tensorflow-addons saved its layers under.

Keras configs written with `tfa.layers.InstanceNormalization`,
`tfa.layers.WeightNormalization` and `tfa.layers.FilterResponseNormalization`
name them `Addons>InstanceNormalization`, `Addons>WeightNormalization` and
`Addons>FilterResponseNormalization`. Registering our layers under those names too
lets such configs load after `import keras_norms`; our own configs keep
naming them `keras_norms>...`.

Whole Keras 2 `.h5` model files load with `load_tensorflow_addons_model`,
which gives the weights tensorflow-addons saved to ours by name.
"""

import json
import warnings

import keras
import numpy as np
from keras import ops

from keras_norms.filter_response_normalization import (
    FilterResponseNormalization,
)
from keras_norms.instance_normalization import InstanceNormalization
from keras_norms.weight_normalization import WeightNormalization

keras.saving.get_custom_objects().update(
    {
        "Addons>InstanceNormalization": InstanceNormalization,
        "Addons>WeightNormalization": WeightNormalization,
        "Addons>FilterResponseNormalization": FilterResponseNormalization,
    }
)


def load_tensorflow_addons_model(filepath, custom_objects=None, compile=True):
    """Loads a Keras 2 `.h5` model that holds tensorflow-addons' layers.

    Keras 3 reads Keras 2 `.h5` files with `keras.saving.load_model`, and
    after `import keras_norms` finds our layers under tensorflow-addons'
    names, but it assigns each layer's saved weights by position and count,
    which fits `InstanceNormalization` (`gamma`, `beta`) only:
    tensorflow-addons' `WeightNormalization` saved `g`, the wrapped layer's
    weights, `initialized` and, with `data_init=True`, a copy of the wrapped
    layer's weights, where ours also keeps `g_offset` and `bias_offset`; and
    its `FilterResponseNormalization` saved `gamma` and `beta` shaped
    `(1, 1, 1, channels)`, ours `(channels,)`. This function builds the
    model from the file's config as Keras does and gives each weight of
    keras-norms' layers its value by name:

    - `WeightNormalization`: `g` (for a recurrent layer, tensorflow-addons'
      `g` was the recurrent kernel's: it becomes `recurrent_g`, and `g` is
      set to the input kernel's norm, so the input kernel is used as it
      was), the wrapped layer's weights, `initialized`; the offsets start
      at zero, since tensorflow-addons' init wrote into `g` and the bias;
    - `FilterResponseNormalization`: `gamma`, `beta` reshaped, and the
      learned epsilon;
    - `InstanceNormalization`: `gamma`, `beta`.

    Other layers get theirs by position, as Keras gives them.

    Args:
        filepath: Path of the `.h5` file.
        custom_objects: Optional dict of the custom classes and functions
            the file's config names, as for `keras.saving.load_model`.
        compile: If `True` and the file holds a training config, compile
            the model with its loss, metrics and optimizer. The optimizer
            starts from its initial state: its saved state is not restored.
            Where Keras cannot read the training config, the model is
            returned uncompiled, with a warning.

    Returns:
        A Keras 3 model built of keras-norms' layers and Keras's.

    Raises:
        ValueError: if the file holds no model config, or its weights do
            not fit the model (a layer count or weight shape that differs,
            as for tensorflow-addons' WeightNormalization inside a nested
            model).
    """
    import h5py
    from keras.src.legacy.saving import saving_options, saving_utils

    with h5py.File(filepath, mode="r") as f:
        config = _attribute(f, "model_config")
        if config is None:
            raise ValueError(
                f"No model config found in the file at {filepath!r}: it is "
                "not a Keras 2 model file. Received: "
                f"filepath={filepath!r}"
            )
        objects = {**keras.saving.get_custom_objects(), **(custom_objects or {})}
        with saving_options.keras_option_scope(use_legacy_config=True):
            model = saving_utils.model_from_config(json.loads(config), custom_objects=objects)
        _load_weights(f["model_weights"], model, filepath)
        training_config = _attribute(f, "training_config")
        if compile and training_config is not None:
            try:
                arguments = saving_utils.compile_args_from_training_config(
                    json.loads(training_config), objects
                )
            except (TypeError, ValueError) as error:
                # Keras 3 reads some Keras 2 training configs (a loss saved
                # as a string, for one) no better than this.
                warnings.warn(
                    f"The model in {filepath!r} is returned uncompiled: "
                    f"Keras could not read its training config ({error}). "
                    "Compile it yourself.",
                    stacklevel=2,
                )
            else:
                model.compile(**arguments)
    return model


def _attribute(group, name):
    value = group.attrs.get(name)
    return value.decode("utf-8") if hasattr(value, "decode") else value


def _names(group, name):
    """A list of names stored in attribute `name` of an HDF5 group.

    Keras 2 split a list too long for one HDF5 attribute into `name0`,
    `name1`, ...
    """
    if name in group.attrs:
        chunks = [group.attrs[name]]
    else:
        chunks = []
        while f"{name}{len(chunks)}" in group.attrs:
            chunks.append(group.attrs[f"{name}{len(chunks)}"])
    return [
        n.decode("utf-8") if hasattr(n, "decode") else str(n) for chunk in chunks for n in chunk
    ]


def _legacy_order(layer):
    """A layer's weights in the order Keras 2 saved them."""
    return layer.trainable_weights + layer.non_trainable_weights


def _load_weights(group, model, filepath):
    layers = [layer for layer in model.layers if _legacy_order(layer)]
    saved = [name for name in _names(group, "layer_names") if _names(group[name], "weight_names")]
    if len(saved) != len(layers):
        raise ValueError(
            f"The file at {filepath!r} holds weights for {len(saved)} layers "
            f"({', '.join(saved)}); the model built from its config has "
            f"{len(layers)} layers with weights "
            f"({', '.join(layer.name for layer in layers)})."
        )
    for layer, name in zip(layers, saved):
        weight_names = _names(group[name], "weight_names")
        values = [np.asarray(group[name][w]) for w in weight_names]
        if isinstance(layer, _BY_NAME):
            _assign_by_name(layer, weight_names, values)
            continue
        try:
            _assign(layer, _legacy_order(layer), weight_names, values)
        except ValueError as error:
            if not isinstance(layer, keras.Model):
                raise
            # A nested model's weights go by position, which fits
            # InstanceNormalization and FilterResponseNormalization (shapes
            # aside), not tfa's WeightNormalization.
            raise ValueError(
                f"Cannot load the weights of nested model '{layer.name}' "
                f"from the file at {filepath!r}: {error} The weights of "
                "tensorflow-addons' WeightNormalization are matched by name "
                "only at the top level of a model."
            ) from None


def _assign(layer, variables, names, values):
    if len(variables) != len(values):
        raise ValueError(
            f"Layer '{layer.name}' has {len(variables)} weights; the file "
            f"holds {len(values)} for it ({', '.join(names)})."
        )
    for variable, name, value in zip(variables, names, values):
        if tuple(variable.shape) != value.shape:
            if int(np.prod(variable.shape)) != value.size:
                raise ValueError(
                    f"Weight {name} of layer '{layer.name}' has shape "
                    f"{value.shape} in the file; the layer's {variable.path} "
                    f"has shape {tuple(variable.shape)}."
                )
            value = value.reshape(variable.shape)
        variable.assign(value)


def _assign_by_name(layer, names, values):
    """Gives each of tensorflow-addons' weights to ours of the same name."""
    is_rnn = isinstance(layer, WeightNormalization) and layer.is_rnn
    ours = {}
    for variable in layer.weights:
        ours.setdefault(variable.name, variable)
    variables, kept_names, kept_values = [], [], []
    for name, value in zip(names, values):
        # tensorflow-addons' data-dependent init kept a copy of the wrapped
        # layer, used only for that init.
        if "/data_dep_init/" in f"/{name}":
            continue
        short = name.rsplit("/", 1)[-1].split(":")[0]
        if is_rnn and short == "g":
            short = "recurrent_g"
        if short not in ours:
            raise ValueError(
                f"The file holds weight {name} for layer '{layer.name}' "
                f"({type(layer).__name__}), which has no weight "
                f"'{short}'. Its weights: {', '.join(ours)}."
            )
        variables.append(ours[short])
        kept_names.append(name)
        kept_values.append(value)
    _assign(layer, variables, kept_names, kept_values)
    if is_rnn:
        # Our input kernel's magnitude, so that it is used as saved.
        kernel = layer._kernels[0]
        v = ops.cast(kernel.variable, "float32")
        layer.g.assign(ops.sqrt(ops.sum(ops.square(v), axis=kernel.norm_axes)))


_BY_NAME = (
    InstanceNormalization,
    FilterResponseNormalization,
    WeightNormalization,
)
