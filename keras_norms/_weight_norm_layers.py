"""What `WeightNormalization` needs to know about each layer type it wraps.

For every known Keras layer this module answers four questions: which
kernels get a magnitude `g` (the input kernel, and for recurrent layers also
the recurrent kernel), which kernel axes index the output units (the norm is
taken over all the others), how to compute the pre-activations of a batch
for the data-dependent initialization, and where the wrapped layer reads a
variable from, so the wrapper can hand it the effective kernel instead.
Any other layer with a `kernel` can be wrapped too: its output-unit axes
come from the wrapper's `output_axes` argument, and its pre-activations
from calling it with a zero bias and a linear activation.
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
# Layers whose pre-activations `preactivations` computes itself.
COMPUTED = (keras.layers.Dense,) + CONVOLUTIONS + TRANSPOSED + DEPTHWISE + RECURRENT
SUPPORTED = COMPUTED + (keras.layers.EinsumDense,)

# tensorflow-addons' words for a layer without a kernel, kept in our messages
# so code that matches them still does.
_TFA_NO_KERNEL = "`WeightNormalization` must wrap a layer that contains a `kernel` for weights"


def describe(layer):
    """Returns `'name' (ClassName)` for error messages."""
    return f"'{layer.name}' ({type(layer).__name__})"


def check_wrappable(layer, given_axes=None):
    """Raises a ValueError naming `layer` if it cannot be weight-normalized.

    A layer of a type not in `SUPPORTED` needs `given_axes`, the wrapper's
    `output_axes` argument, since nothing else tells its kernel layout.
    """
    if not isinstance(layer, keras.layers.Layer):
        raise ValueError(f"Argument `layer` must be a Keras layer. Received: layer={layer!r}")
    if not isinstance(layer, SUPPORTED):
        if layer.built:
            check_kernel(layer)
        if given_axes is None:
            # Layers with a kernel take a `kernel_initializer` argument or,
            # once built, hold one; others may create one when built.
            has_kernel = hasattr(layer, "kernel") or (
                "kernel_initializer" in inspect.signature(type(layer).__init__).parameters
            )
            reason = (
                "it is not a known layer type"
                if has_kernel
                else f"it has no kernel, or creates one only when built ({_TFA_NO_KERNEL})"
            )
            raise ValueError(
                f"WeightNormalization cannot wrap layer {describe(layer)}: "
                f"{reason}. For a layer with a `kernel`, pass `output_axes`, "
                "the kernel axes that index output units (e.g. "
                "output_axes=-1 for a kernel shaped (inputs, units)). "
                f"Known layers: {', '.join(c.__name__ for c in SUPPORTED)}."
            )
    if layer.dtype_policy.quantization_mode is not None:
        raise ValueError(
            f"WeightNormalization cannot wrap layer {describe(layer)}: it is "
            f"quantized ({layer.dtype_policy.quantization_mode})."
        )
    if getattr(layer, "lora_enabled", False):
        raise ValueError(
            f"WeightNormalization cannot wrap layer {describe(layer)}: LoRA is enabled on it."
        )


def owner(layer):
    """The layer object that holds the kernels: the cell of a recurrent layer."""
    return layer.cell if isinstance(layer, RECURRENT) else layer


def kernel_names(layer):
    """Names of the kernels that get a magnitude `g`, input kernel first."""
    if isinstance(layer, RECURRENT):
        return ("kernel", "recurrent_kernel")
    return ("kernel",)


def check_output_axes(output_axes):
    """Validates the wrapper's `output_axes` argument: None, an int or ints."""
    if output_axes is None:
        return None
    axes = (output_axes,) if isinstance(output_axes, int) else output_axes
    if (
        not isinstance(axes, (tuple, list))
        or not axes
        or not all(isinstance(a, int) and not isinstance(a, bool) for a in axes)
    ):
        raise ValueError(
            "Argument `output_axes` must be an int or a non-empty tuple of "
            f"ints. Received: output_axes={output_axes!r}"
        )
    return tuple(axes)


def check_kernel(layer):
    """Raises a ValueError naming a built `layer` that holds no kernel."""
    if not isinstance(getattr(layer, "kernel", None), keras.Variable):
        raise ValueError(
            f"WeightNormalization cannot wrap layer {describe(layer)}: it "
            f"has no kernel (no `kernel` variable once built): {_TFA_NO_KERNEL}."
        )


def output_axes(layer, kernel_rank, given_axes=None):
    """The kernel axes that index output units (non-negative, sorted).

    `given_axes`, the wrapper's argument, wins. Convolution and dense
    kernels end in (..., inputs, outputs); transposed convolutions store
    (..., outputs, inputs); a depthwise kernel has one output unit per
    (input channel, depth multiplier) pair. Recurrent kernels put every
    gate's units side by side on the last axis, so one magnitude per column
    is one per output unit of each gate. An `EinsumDense` kernel's output
    axes are those whose subscript appears in the equation's output.
    """
    if given_axes is not None:
        in_range = all(-kernel_rank <= a < kernel_rank for a in given_axes)
        axes = sorted({a % kernel_rank for a in given_axes})
        if not in_range or len(axes) != len(given_axes) or len(axes) == kernel_rank:
            raise ValueError(
                f"Argument `output_axes` must name distinct axes of the "
                f"rank-{kernel_rank} kernel of layer {describe(layer)}, "
                "leaving at least one to take the norm over. "
                f"Received: output_axes={given_axes!r}"
            )
        return tuple(axes)
    if isinstance(layer, keras.layers.EinsumDense):
        operands, output = layer.equation.replace(" ", "").split("->")
        kernel = operands.split(",")[1]
        return tuple(i for i, s in enumerate(kernel) if s in output)
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


def per_unit_bias(layer, owner, units_shape):
    """The bias the data-dependent init may shift, or None.

    Known layers add one bias entry per output unit (a GRU with
    `reset_after` two rows of them); any other layer's bias counts only if
    it is shaped like the output units, as an `EinsumDense` bias over all
    output axes is.
    """
    bias = getattr(owner, "bias", None)
    if bias is None or isinstance(layer, COMPUTED):
        return bias
    return bias if tuple(bias.shape) == tuple(units_shape) else None


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


def preactivations(layer, inputs, kernel, units_shape):
    """The layer's output before bias and activation, units on the last axis.

    The unit order on the last axis matches the flattened magnitude `g` and
    the layer's bias. For a recurrent layer this is the input projection
    `inputs @ kernel` at every time step. Any other layer is called with
    `kernel`, a zero bias and a linear activation; its output must end in
    the kernel's output-unit axes, in `units_shape`.
    """
    if not isinstance(layer, COMPUTED):
        return _called_linearly(layer, inputs, kernel, units_shape)
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


def _called_linearly(layer, inputs, kernel, units_shape):
    """`layer.call(inputs)` with `kernel`, no bias and no activation."""
    # Imported here: weight_normalization imports this module.
    from keras_norms.weight_normalization import _reading

    substitutes = [(layer, attribute_holding(layer, layer.kernel), kernel)]
    bias = getattr(layer, "bias", None)
    if bias is not None:
        zeros = ops.zeros(bias.shape, kernel.dtype)
        substitutes.append((layer, attribute_holding(layer, bias), zeros))
    if "activation" in vars(layer):
        substitutes.append((layer, "activation", keras.activations.linear))
    with _reading(substitutes):
        outputs = layer.call(inputs)
    trailing = tuple(outputs.shape[len(outputs.shape) - len(units_shape) :])
    if trailing != tuple(units_shape):
        raise ValueError(
            f"WeightNormalization cannot run the data-dependent init of layer "
            f"{describe(layer)}: its output shape {tuple(outputs.shape)} does "
            f"not end in its kernel's output units {tuple(units_shape)}. "
            "Pass data_init=False, or output_axes matching the output."
        )
    return outputs
