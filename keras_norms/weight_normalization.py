"""Weight normalization: a wrapper that reparameterizes a layer's kernel."""

import contextlib
import inspect
import math

import keras
from keras import ops

from keras_norms import _weight_norm_layers as layer_types
from keras_norms import kernels
from keras_norms._statistics import combine_moments
from keras_norms._validation import check_epsilon


class _NormalizedKernel:
    """One kernel of the wrapped layer and its magnitude `g`.

    `owner.<attribute>` is where the wrapped layer reads `variable` at call
    time; `norm_axes` are the kernel axes the norm runs over (all but the
    output-unit axes) and `g_shape` is the kernel shape with those axes set
    to 1, the shape `g` broadcasts to.
    """

    def __init__(self, owner, attribute, variable, norm_axes, g):
        self.owner = owner
        self.attribute = attribute
        self.variable = variable
        self.norm_axes = norm_axes
        self.g = g
        self.g_shape = tuple(
            1 if axis in norm_axes else size for axis, size in enumerate(variable.shape)
        )

    def kernel(self, g):
        """The effective kernel `g * v / ||v||`, in float32."""
        return kernels.weight_norm(self.variable, ops.reshape(g, self.g_shape), self.norm_axes)


class _Bias:
    """The wrapped layer's bias variable and the attribute it is read from.

    Kept in a plain object so Keras does not track the variable a second
    time as a weight of the wrapper.
    """

    def __init__(self, owner, attribute, variable):
        self.owner = owner
        self.attribute = attribute
        self.variable = variable


@contextlib.contextmanager
def _reading(substitutes):
    """Points layer attributes at other tensors for the duration of a block.

    `substitutes` holds `(obj, attribute, tensor)` triples. Setting through
    `object.__setattr__` keeps Keras's variable tracking out of it, and the
    original variables are back in place however the block exits.
    """
    originals = [(obj, name, vars(obj)[name]) for obj, name, _ in substitutes]
    try:
        for obj, name, tensor in substitutes:
            object.__setattr__(obj, name, tensor)
        yield
    finally:
        for obj, name, original in originals:
            object.__setattr__(obj, name, original)


def _norm_of(variable, axes):
    """An initializer that returns `||variable||` over `axes`."""

    def initializer(shape, dtype=None):
        v = ops.cast(variable, "float32")
        return ops.cast(ops.sqrt(ops.sum(ops.square(v), axis=axes)), dtype)

    return initializer


def _accepts(method, argument):
    return argument in inspect.signature(method).parameters


@keras.saving.register_keras_serializable(package="keras_norms")
class WeightNormalization(keras.layers.Wrapper):
    """Weight normalization wrapper (Salimans & Kingma, 2016).

    Reparameterizes the kernel of the wrapped layer as a direction `v` and a
    magnitude `g`, one per output unit:

    ```
    w = g * v / ||v||
    ```

    where the norm runs over every kernel axis except the output-unit axis
    (the last axis for `Dense` and convolutions, the second to last for
    transposed convolutions, the last two for depthwise convolutions). `v`
    is the wrapped layer's own kernel variable; `g` starts at `||v||`, so
    wrapping does not change what the layer computes. `w` is computed in
    float32 on every call, so gradients reach `g` and `v` through the
    normalization.

    Recurrent layers (`SimpleRNN`, `LSTM`, `GRU`) have both their input
    kernel and their recurrent kernel normalized, with one magnitude per
    output unit of each gate: `g` and `recurrent_g`.

    Data-dependent initialization: on the first call with `training=True`
    (or through `initialize(batch)`), the wrapper measures the mean `mu` and
    standard deviation `sigma` of each unit's pre-activation on that batch
    and sets the magnitude to `g / sigma` and the bias to `-mu / sigma`, so
    the pre-activations have zero mean and unit variance on that batch. For
    recurrent layers the pre-activation measured is the input projection
    `x @ kernel` at every time step (the recurrent term depends on the state
    the init would change); only `g` is rescaled, and the bias is shifted
    by `-mu / sigma`, keeping the layer's own initial bias such as the LSTM
    forget-gate bias of 1. Without a bias only `g` is rescaled. Masked time
    steps are left out of the statistics, and under a `tf.distribute`
    strategy the statistics are combined across replicas so every replica
    initializes alike.

    The init runs in the graph, once, in `model.fit`, `tf.function` and
    under XLA, on every backend: its result is stored in the non-trainable
    weights `g_offset` and `bias_offset`, which are added to `g` and the
    bias, and the non-trainable flag `initialized` selects between the
    measured and the stored offsets. (A training step on a stateless backend
    such as JAX only carries updates of non-trainable weights forward, so
    the init cannot overwrite `g` itself; an added offset leaves the
    gradients and updates of `g` and the bias exactly as if it had.) All
    three are saved with the model, so a loaded model never re-initializes.

    Any other layer that keeps its weights in a `kernel` (and optionally a
    `bias`) variable can be wrapped too, such as a user's own layer, given
    `output_axes`. Its data-dependent init calls the layer with a zero bias
    and a linear activation and expects the output to end in the output
    units; the bias is shifted only if it holds one entry per output unit.

    Args:
        layer: the layer to wrap. Known types: `Dense`, `EinsumDense`,
            `Conv1D/2D/3D`, `Conv1DTranspose/2DTranspose/3DTranspose`,
            `DepthwiseConv1D/2D`, `SimpleRNN`, `LSTM` and `GRU`; any other
            layer with a `kernel` needs `output_axes`.
        data_init: whether to run the data-dependent initialization on the
            first training batch. Defaults to `True`.
        epsilon: small float added to the variance of the pre-activations in
            the data-dependent init, to avoid dividing by zero. Defaults to
            `1e-6`.
        output_axes: int or tuple of ints, the kernel axes that index output
            units (one magnitude each; the norm runs over the other axes).
            Inferred for the known types (for `EinsumDense`, the kernel axes
            named in the equation's output); required for any other layer.
        **kwargs: base layer keyword arguments (e.g. `name`).

    Call arguments:
        inputs: the input of the wrapped layer.
        training: Python boolean; the first call with `training=True` runs
            the data-dependent initialization.
        mask: optional mask, passed on to layers that take one.
        initial_state: optional initial state of a recurrent layer.

    Reference:

    - [Salimans & Kingma, 2016](https://arxiv.org/abs/1602.07868)

    Example:

    >>> dense = WeightNormalization(keras.layers.Dense(8))
    >>> y = dense(np.random.rand(32, 4), training=True)  # initializes
    >>> dense.g.shape
    (8,)
    >>> plain = dense.fold()  # a keras.layers.Dense with w as its kernel
    """

    def __init__(self, layer, data_init=True, epsilon=1e-6, output_axes=None, **kwargs):
        if isinstance(layer, WeightNormalization):
            raise ValueError(
                "WeightNormalization cannot wrap layer "
                f"{layer_types.describe(layer.layer)}: it is already wrapped "
                f"by WeightNormalization '{layer.name}'."
            )
        output_axes = layer_types.check_output_axes(output_axes)
        layer_types.check_wrappable(layer, output_axes)
        # Two wrappers of one layer would both substitute its kernel.
        wrapper = getattr(layer, "_weight_normalization_wrapper", None)
        if wrapper is not None:
            raise ValueError(
                "WeightNormalization cannot wrap layer "
                f"{layer_types.describe(layer)}: it is already wrapped by "
                f"WeightNormalization '{wrapper}'."
            )
        if not isinstance(data_init, bool):
            raise ValueError(
                f"Argument `data_init` must be a bool. Received: data_init={data_init!r}"
            )
        super().__init__(layer, **kwargs)
        layer._weight_normalization_wrapper = self.name
        self.data_init = data_init
        self.epsilon = check_epsilon(epsilon)
        self.output_axes = output_axes
        self.supports_masking = layer.supports_masking

    def build(self, input_shape):
        super().build(input_shape)
        self._input_shape = tuple(input_shape)
        owner = layer_types.owner(self.layer)
        layer_types.check_kernel(owner)
        kernels = []
        for name in layer_types.kernel_names(self.layer):
            variable = getattr(owner, name)
            rank = len(variable.shape)
            unit_axes = layer_types.output_axes(self.layer, rank, self.output_axes)
            norm_axes = tuple(a for a in range(rank) if a not in unit_axes)
            g = self.add_weight(
                name="g" if name == "kernel" else "recurrent_g",
                shape=tuple(variable.shape[a] for a in unit_axes),
                initializer=_norm_of(variable, norm_axes),
                autocast=False,
            )
            kernel = _NormalizedKernel(
                owner,
                layer_types.attribute_holding(owner, variable),
                variable,
                norm_axes,
                g,
            )
            kernels.append(kernel)
        self._kernels = tuple(kernels)
        self.g = kernels[0].g
        if len(kernels) > 1:
            self.recurrent_g = kernels[1].g

        bias = layer_types.per_unit_bias(self.layer, owner, self.g.shape)
        self._bias = None
        if bias is not None:
            self._bias = _Bias(owner, layer_types.attribute_holding(owner, bias), bias)
        self.g_offset = self.add_weight(
            name="g_offset",
            shape=self.g.shape,
            initializer="zeros",
            trainable=False,
            autocast=False,
        )
        self.bias_offset = None
        if self._bias is not None:
            self.bias_offset = self.add_weight(
                name="bias_offset",
                shape=self._bias.variable.shape,
                initializer="zeros",
                trainable=False,
                autocast=False,
            )
        self.initialized = self.add_weight(
            name="initialized",
            shape=(),
            dtype="bool",
            initializer="zeros",
            trainable=False,
        )

    @property
    def is_rnn(self):
        """Whether the wrapped layer is a recurrent layer."""
        return isinstance(self.layer, keras.layers.RNN)

    @property
    def v(self):
        """The direction: the wrapped layer's kernel variable."""
        return self._kernels[0].variable

    @property
    def recurrent_v(self):
        """The recurrent direction: a recurrent layer's recurrent kernel."""
        if len(self._kernels) < 2:
            raise AttributeError(
                f"Layer {layer_types.describe(self.layer)} has no recurrent kernel."
            )
        return self._kernels[1].variable

    def call(self, inputs, training=None, mask=None, initial_state=None):
        g_offset = ops.cast(self.g_offset, "float32")
        bias_offset = None
        if self._bias is not None:
            bias_offset = ops.cast(self.bias_offset, "float32")
        if training and self.data_init:
            g_offset, bias_offset = self._data_init_offsets(inputs, mask)

        dtype = self._kernels[0].owner.compute_dtype
        substitutes = []
        for i, kernel in enumerate(self._kernels):
            g = ops.cast(kernel.g, "float32")
            if i == 0:
                g = g + g_offset
            w = ops.cast(kernel.kernel(g), dtype)
            substitutes.append((kernel.owner, kernel.attribute, w))
        if self._bias is not None:
            bias = ops.cast(self._bias.variable, "float32") + bias_offset
            substitutes.append((self._bias.owner, self._bias.attribute, ops.cast(bias, dtype)))

        kwargs = {}
        if _accepts(self.layer.call, "training"):
            kwargs["training"] = training
        if mask is not None and _accepts(self.layer.call, "mask"):
            kwargs["mask"] = mask
        if initial_state is not None:
            kwargs["initial_state"] = initial_state
        with _reading(substitutes):
            return self.layer(inputs, **kwargs)

    def _data_init_offsets(self, inputs, mask):
        """Offsets of `g` and the bias after the data-dependent init.

        Measures the pre-activations only while `initialized` is False (a
        conditional, not Python control flow, so it traces once and runs
        under XLA), stores the resulting offsets and sets the flag. Returns
        the offsets to use in this call.
        """
        kernel = self._kernels[0]
        g = ops.cast(kernel.g, "float32")
        g_current = g + ops.cast(self.g_offset, "float32")
        units = math.prod(g.shape)
        use_mask = mask is not None and layer_types.uses_mask(self.layer)

        def measure():
            w = kernel.kernel(g_current)
            z = layer_types.preactivations(self.layer, ops.cast(inputs, "float32"), w, g.shape)
            z = ops.reshape(z, (-1, units))
            if use_mask:
                weights = ops.reshape(ops.cast(mask, "float32"), (-1, 1))
            else:
                weights = ops.ones_like(z[:, :1])
            count = ops.sum(weights)
            mean = ops.sum(weights * z, axis=0) / ops.maximum(count, 1.0)
            squares = ops.sum(weights * ops.square(z - mean), axis=0)
            return count, mean, squares

        def skip():
            zeros = ops.zeros((units,), "float32")
            return ops.zeros((), "float32"), zeros, zeros

        done = self.initialized.value
        count, mean, squares = ops.cond(done, skip, measure)
        mean, variance, count = combine_moments(count, mean, squares, kernels.cross_replica_sum)
        inv_std = ops.rsqrt(variance + self.epsilon)
        # A batch without values (empty, or all masked) has nothing to
        # measure: the offsets stay and the next batch initializes.
        initialized = ops.logical_or(done, count > 0)
        done = ops.logical_or(done, count == 0)

        g_offset = ops.cast(self.g_offset, "float32")
        new_g_offset = g_current * ops.reshape(inv_std, g.shape) - g
        g_offset = ops.where(done, g_offset, ops.stop_gradient(new_g_offset))
        self.g_offset.assign(ops.cast(g_offset, self.g_offset.dtype))

        bias_offset = None
        if self._bias is not None:
            bias_offset = ops.cast(self.bias_offset, "float32")
            shift = -mean * inv_std
            if layer_types.input_bias_rows(self.layer) == 0:
                shift = ops.stack([shift, ops.zeros_like(shift)])
            else:
                shift = ops.reshape(shift, self._bias.variable.shape)
            if layer_types.shifts_bias(self.layer):
                new_bias_offset = bias_offset + shift
            else:
                new_bias_offset = shift - ops.cast(self._bias.variable, "float32")
            bias_offset = ops.where(done, bias_offset, ops.stop_gradient(new_bias_offset))
            self.bias_offset.assign(ops.cast(bias_offset, self.bias_offset.dtype))
        self.initialized.assign(initialized)
        return g_offset, bias_offset

    def initialize(self, batch, mask=None):
        """Runs the data-dependent initialization on `batch`, eagerly.

        Use it before training to initialize from a chosen batch (also with
        `data_init=False`). Builds the wrapper if needed.

        Args:
            batch: an input batch for the wrapped layer.
            mask: optional mask of `batch` (masked steps are not measured).

        Raises:
            ValueError: if the wrapper is already initialized.
        """
        batch = ops.convert_to_tensor(batch)
        if not self.built:
            self.build(tuple(batch.shape))
        if bool(ops.convert_to_numpy(self.initialized)):
            raise ValueError(
                f"WeightNormalization '{self.name}' is already initialized: "
                "the data-dependent init runs once and is part of the saved "
                "state. Build a new wrapper to initialize again."
            )
        self._data_init_offsets(batch, mask)

    def fold(self):
        """Returns the wrapped layer as a plain layer with `w` as its kernel.

        The result is a new layer of the wrapped type and config, built, with
        the effective kernel(s) and bias as its weights; it computes the same
        outputs as the wrapper, for inference and export.
        """
        if not self.built:
            raise ValueError(
                f"WeightNormalization '{self.name}' must be built before "
                "fold(); call it on an input first."
            )
        effective = {}
        g_offset = ops.cast(self.g_offset, "float32")
        for i, kernel in enumerate(self._kernels):
            g = ops.cast(kernel.g, "float32")
            if i == 0:
                g = g + g_offset
            effective[id(kernel.variable)] = kernel.kernel(g)
        if self._bias is not None:
            effective[id(self._bias.variable)] = ops.cast(
                self._bias.variable, "float32"
            ) + ops.cast(self.bias_offset, "float32")

        folded = type(self.layer).from_config(self.layer.get_config())
        folded.build(self._input_shape)
        folded.set_weights(
            [ops.convert_to_numpy(effective.get(id(v), v)) for v in self.layer.weights]
        )
        return folded

    def remove(self):
        """tensorflow-addons' name for `fold()`: the plain layer, `w` baked in."""
        return self.fold()

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def compute_mask(self, inputs, mask=None):
        return self.layer.compute_mask(inputs, mask)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        layer_config = config.pop("layer")
        name = layer_config.get("class_name")
        if "module" not in layer_config and hasattr(keras.layers, name):
            # A Keras 2 config, as tensorflow-addons saved the wrapped
            # layer, names no module; Keras 3 finds built-ins by module.
            layer_config = {**layer_config, "module": "keras.layers"}
        inner = layer_config.get("config", {})
        if "time_major" in inner and hasattr(keras.layers, name):
            # Keras 2's recurrent layers took `time_major`; Keras 3's run
            # batch-major only and refuse the argument.
            if inner["time_major"]:
                raise ValueError(
                    f"Cannot load the wrapped {name}: it ran time-major "
                    "(Keras 2's time_major=True), which Keras 3's recurrent "
                    "layers do not. Received: time_major=True"
                )
            inner = {k: v for k, v in inner.items() if k != "time_major"}
            layer_config = {**layer_config, "config": inner}
        layer = keras.layers.deserialize(layer_config, custom_objects=custom_objects)
        return cls(layer, **config)

    def get_config(self):
        config = {
            "data_init": self.data_init,
            "epsilon": self.epsilon,
            "output_axes": self.output_axes,
        }
        base_config = super().get_config()
        return {**base_config, **config}
