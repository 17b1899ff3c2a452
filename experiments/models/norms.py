"""The normalization vocabulary of the experiment suite.

One name per normalization, used alike by the command line, the MLflow params
and the report. A model builder asks `normalized(layer, norm)` for the layers
that replace a plain linear or convolutional `layer`, so every model is
identical apart from its normalization.
"""

import importlib

NORMS = ("none", "batch", "batch_renorm", "instance", "weight", "weight_meanbn", "layer", "group")

# The norms of a fully connected network (experiments.models.mlp): instance and
# group norm compute statistics over positions, which a dense layer's output has not.
MLP_NORMS = ("none", "batch", "batch_renorm", "weight", "weight_meanbn", "layer")

# The norms of the text task's transformer (experiments.models.text): its own
# layer norm, batch norm over the batch's tokens, or none.
TEXT_NORMS = ("none", "batch", "layer")

# The norms a recurrent model takes (see experiments.models.rnn): weight norm
# wraps the recurrent layer, batch, instance and layer norm act on its input
# projection, and the recurrent ones inside the LSTM cell, as the papers that
# proposed them (experiments.models.lstm_cells).
RECURRENT_NORMS = {"recurrent_batch": "batch", "recurrent_layer": "layer"}
RNN_NORMS = ("none", "batch", "instance", "weight", "layer", *RECURRENT_NORMS)

# Keras's SpectralNormalization (Miyato et al. 2018) is offered where the
# literature puts it, in a GAN's discriminator (see experiments.models.gan).
SPECTRAL = "spectral"
DISCRIMINATOR_NORMS = (*NORMS, SPECTRAL)

# Moving-statistics momentum of the batch norms. Experiments train for a few
# hundred steps; at Keras's 0.99 the moving statistics still lag the weights
# then, and a model that trains well evaluates near chance. 0.9 is PyTorch's
# default (its momentum=0.1).
BATCH_MOMENTUM = 0.9

# Batch renormalization (Ioffe 2017) as `batch_renorm`: the paper's final
# clipping (r in [1/3, 3], |d| <= 5) from the first step, since Keras's layer
# takes no schedule for it, and its averages kept at the batch norms' momentum.
RENORM = {
    "renorm": True,
    "renorm_clipping": {"rmax": 3.0, "dmax": 5.0},
    "renorm_momentum": BATCH_MOMENTUM,
}


# Keras and the library are imported on first use, so the command line starts
# fast and models that use only Keras's own layers never need keras_norms.
def _keras_norms():
    return importlib.import_module("keras_norms")


def _keras_layers():
    return importlib.import_module("keras").layers


def check_norm(norm, supported=NORMS):
    """Raises a ValueError naming `norm` if it is not in `supported`."""
    if norm not in supported:
        raise ValueError(
            f"Unknown normalization: norm={norm!r}. Choose one of: {', '.join(supported)}"
        )
    return norm


def uses_bias(norm):
    """Whether the layer before the normalization needs its own bias.

    Batch, instance, layer and group norm subtract a mean and add a learned
    offset, which makes a bias in the preceding layer redundant.
    """
    return norm in ("none", "weight", SPECTRAL)


def convert_arguments(norm):
    """The `keras_norms.convert(model, norm, **options)` arguments for `norm`:
    the batch norms it creates take `BATCH_MOMENTUM`, as the built-in models' do."""
    check_norm(norm)
    if norm == "batch_renorm":
        return "batch", {"momentum": BATCH_MOMENTUM, **RENORM}
    if norm == "batch":
        return "batch", {"momentum": BATCH_MOMENTUM}
    return norm, {}


def convert(model, norm):
    """`keras_norms.convert(model, norm)` with the suite's settings: every batch
    norm it creates, mean-only ones included, at `BATCH_MOMENTUM`."""
    name, options = convert_arguments(norm)
    converted = _keras_norms().convert(model, name, **options)
    if norm == "weight_meanbn":
        # convert's options go to the weight-norm wrappers; the mean-only batch
        # norms it puts in place of the model's take the momentum here.
        for layer in _every_layer(converted):
            if isinstance(layer, _keras_norms().MeanOnlyBatchNormalization):
                layer.momentum = BATCH_MOMENTUM
    return converted


def _every_layer(model):
    """The layers of `model` and of the models nested in it."""
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _every_layer(layer)


def normalized(
    layer, norm, groups=8, name=None, stats_batch=None, layer_over_space=False, data_init=True
):
    """Returns the layers to apply in order in place of `layer`.

    Args:
        layer: an unbuilt Keras layer with a kernel (Dense, Conv*).
        norm: one of `NORMS`, or `SPECTRAL`.
        groups: group count for `group`; it must divide the channel count.
        name: optional name prefix for the normalization layer.
        stats_batch: `batch` only: the examples each set of batch statistics
            is computed over (ghost batches, `virtual_batch_size`); None: the
            whole batch. It must divide the batch size.
        layer_over_space: `layer` normalizes each example over its channels
            and positions together (Ba et al. 2016 on a convolution, the
            group norm paper's layer norm: group norm with one group) instead
            of over the channels at each position.
        data_init: `weight` and `weight_meanbn`: whether weight norm starts
            with its data-dependent initialization.
    """
    check_norm(norm, DISCRIMINATOR_NORMS)
    norm_name = f"{name}_{norm}" if name else None
    wrapper_name = f"{name}_weight" if name else None
    if norm == "none":
        return [layer]
    if norm == "weight":
        return [_keras_norms().WeightNormalization(layer, data_init=data_init, name=wrapper_name)]
    if norm == SPECTRAL:
        return [_keras_layers().SpectralNormalization(layer)]
    if norm == "weight_meanbn":
        return [
            _keras_norms().WeightNormalization(layer, data_init=data_init, name=wrapper_name),
            _keras_norms().MeanOnlyBatchNormalization(momentum=BATCH_MOMENTUM, name=norm_name),
        ]
    if stats_batch is not None and norm != "batch":
        raise ValueError(
            f"stats_batch applies to batch norm only, got stats_batch={stats_batch!r} "
            f"with norm={norm!r}"
        )
    if norm in ("batch", "batch_renorm"):
        options = RENORM if norm == "batch_renorm" else {"virtual_batch_size": stats_batch}
        return [
            layer,
            _keras_norms().BatchNormalization(momentum=BATCH_MOMENTUM, name=norm_name, **options),
        ]
    if norm == "instance":
        return [layer, _keras_norms().InstanceNormalization(name=norm_name)]
    if norm == "layer" and layer_over_space:
        # Per-channel scale and offset, as the group norm paper's layer norm has.
        return [layer, _keras_layers().GroupNormalization(groups=1, name=norm_name)]
    if norm == "layer":
        # Over the channel axis at each position, as in ConvNeXt and RNNs.
        return [layer, _keras_layers().LayerNormalization(name=norm_name)]
    return [layer, _keras_layers().GroupNormalization(groups=groups, name=norm_name)]


def apply(x, layer, norm, **options):
    """Applies `normalized(layer, norm, **options)` to the tensor `x`, functionally."""
    for each in normalized(layer, norm, **options):
        x = each(x)
    return x
