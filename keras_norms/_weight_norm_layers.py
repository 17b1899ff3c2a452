"""What `WeightNormalization` needs to know about each layer type it wraps.

For every supported Keras layer this module answers four questions: which
kernels get a magnitude `g` (the input kernel, and for recurrent layers also
the recurrent kernel), which kernel axes index the output units (the norm is
taken over all the others), how to compute the pre-activations of a batch
for the data-dependent initialization, and where the wrapped layer reads a
variable from, so the wrapper can hand it the effective kernel instead.
"""

import inspect

import keras
from keras import ops

RECURRENT = (keras.layers.SimpleRNN, keras.layers.LSTM, keras.layers.GRU)
CONVOLUTIONS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)
TRANSPOSED = (
    keras.layers.Conv1DTranspose,
    keras.layers.Conv2DTranspose,
    keras.layers.Conv3DTranspose,
)
DEPTHWISE = (keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)
SUPPORTED = (keras.layers.Dense,) + CONVOLUTIONS + TRANSPOSED + DEPTHWISE + RECURRENT


def describe(layer):
    """Returns `'name' (ClassName)` for error messages."""
    return f"'{layer.name}' ({type(layer).__name__})"


def check_wrappable(layer):
    """Raises a ValueError naming `layer` if it cannot be weight-normalized."""
    if not isinstance(layer, keras.layers.Layer):
        raise ValueError(
            "Argument `layer` must be a Keras layer. "
            f"Received: layer={layer!r}"
        )
    if not isinstance(layer, SUPPORTED):
        # Layers with a kernel take a `kernel_initializer` argument.
        has_kernel = "kernel_initializer" in inspect.signature(
            type(layer).__init__
        ).parameters
        reason = "is not supported" if has_kernel else "has no kernel"
        supported = ", ".join(cls.__name__ for cls in SUPPORTED)
        raise ValueError(
            f"WeightNormalization cannot wrap layer {describe(layer)}: "
            f"it {reason}. Supported layers: {supported}."
        )
    if layer.dtype_policy.quantization_mode is not None:
        raise ValueError(
            f"WeightNormalization cannot wrap layer {describe(layer)}: it is "
            f"quantized ({layer.dtype_policy.quantization_mode})."
        )
    if getattr(layer, "lora_enabled", False):
        raise ValueError(
            f"WeightNormalization cannot wrap layer {describe(layer)}: "
            "LoRA is enabled on it."
        )


def owner(layer):
    """The layer object that holds the kernels: the cell of a recurrent layer."""
    return layer.cell if isinstance(layer, RECURRENT) else layer


def kernel_names(layer):
    """Names of the kernels that get a magnitude `g`, input kernel first."""
    if isinstance(layer, RECURRENT):
        return ("kernel", "recurrent_kernel")
    return ("kernel",)


def output_axes(layer, kernel_rank):
    """The kernel axes that index output units (non-negative, sorted).

    Convolution and dense kernels end in (..., inputs, outputs); transposed
    convolutions store (..., outputs, inputs); a depthwise kernel has one
    output unit per (input channel, depth multiplier) pair. Recurrent kernels
    put every gate's units side by side on the last axis, so one magnitude
    per column is one per output unit of each gate.
    """
    if isinstance(layer, TRANSPOSED):
        return (kernel_rank - 2,)
    if isinstance(layer, DEPTHWISE):
        return (kernel_rank - 2, kernel_rank - 1)
    return (kernel_rank - 1,)


def attribute_holding(obj, variable):
    """The name of the instance attribute of `obj` that stores `variable`.

    Keras layers read their weights from instance attributes at call time
    (`Dense` keeps its kernel in `_kernel` behind a `kernel` property), so
    the wrapper finds the attribute once and points it at the effective
    kernel during each call.
    """
    names = [name for name, value in vars(obj).items() if value is variable]
    if len(names) != 1:
        raise ValueError(
            f"WeightNormalization cannot wrap layer {describe(obj)}: it does "
            f"not keep its variable '{variable.path}' in one attribute."
        )
    return names[0]


def uses_mask(layer):
    """Whether a mask on the input also masks positions of the pre-activation."""
    return isinstance(layer, (keras.layers.Dense,) + RECURRENT)


def shifts_bias(layer):
    """Whether data init shifts the bias instead of replacing it.

    A recurrent layer's pre-activation also has a recurrent term the init
    does not see, so the init keeps the layer's own initial bias (the LSTM
    forget-gate bias of 1) and centres the input projection around it.
    """
    return isinstance(layer, RECURRENT)


def input_bias_rows(layer):
    """Rows of the bias added to the input projection, or None for all.

    A GRU with `reset_after=True` keeps (input bias, recurrent bias) as two
    rows; only the first belongs to the input projection.
    """
    if isinstance(layer, keras.layers.GRU) and layer.cell.reset_after:
        return 0
    return None


def preactivations(layer, inputs, kernel):
    """The layer's output before bias and activation, units on the last axis.

    The unit order on the last axis matches the flattened magnitude `g` and
    the layer's bias. For a recurrent layer this is the input projection
    `inputs @ kernel` at every time step.
    """
    if isinstance(layer, (keras.layers.Dense,) + RECURRENT):
        return ops.matmul(inputs, kernel)
    if isinstance(layer, CONVOLUTIONS):
        padding = layer.padding
        if padding == "causal":
            left = layer.dilation_rate[0] * (layer.kernel_size[0] - 1)
            time_axis = 1 if layer.data_format == "channels_last" else 2
            pad = [[0, 0], [0, 0], [0, 0]]
            pad[time_axis] = [left, 0]
            inputs = ops.pad(inputs, pad)
            padding = "valid"
        outputs = ops.conv(
            inputs,
            kernel,
            strides=list(layer.strides),
            padding=padding,
            dilation_rate=layer.dilation_rate,
            data_format=layer.data_format,
        )
    elif isinstance(layer, TRANSPOSED):
        outputs = ops.conv_transpose(
            inputs,
            kernel,
            strides=list(layer.strides),
            padding=layer.padding,
            output_padding=layer.output_padding,
            dilation_rate=layer.dilation_rate,
            data_format=layer.data_format,
        )
    else:
        outputs = ops.depthwise_conv(
            inputs,
            kernel,
            strides=layer.strides,
            padding=layer.padding,
            dilation_rate=layer.dilation_rate,
            data_format=layer.data_format,
        )
    if layer.data_format == "channels_first":
        outputs = ops.moveaxis(outputs, 1, -1)
    return outputs
