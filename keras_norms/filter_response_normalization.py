"""Filter response normalization, with an optional thresholded linear unit."""

import keras
from keras import backend, constraints, initializers, ops
from keras.layers import InputSpec, Layer

from keras_norms import _masks, _statistics, _validation, _weights


@keras.saving.register_keras_serializable(package="keras_norms")
class FilterResponseNormalization(Layer):
    """Divides each channel of each sample by the root mean square of its response.

    For every sample `n` and channel `c`, with `nu2` the mean of the squared
    input over the spatial axes (`axis`, height and width by default):

    `nu2[n, c] = mean(x[n, ..., c] ** 2)`

    `y[n, ..., c] = gamma[c] * x[n, ..., c] / sqrt(nu2[n, c] + epsilon)
    + beta[c]`

    where `epsilon` is the `epsilon` argument, plus `|learned_epsilon|` with
    `learned_epsilon=True`. Unlike instance normalization, the mean is not
    subtracted: the layer only rescales, and no sample depends on another,
    so it behaves the same at any batch size and in training and inference.

    The paper pairs the normalization with a thresholded linear unit (TLU),
    `max(y, tau)` with a learned `tau` per channel, in place of the ReLU that
    follows it: FRN's output is not centred, and a ReLU after it can leave
    units dead. tensorflow-addons' layer, whose arguments and defaults these
    are, left the TLU out (it had a separate `TLU` layer), and so does this
    one by default: pass `tlu=True` to apply it inside the layer.

    Statistics and weights stay float32 under mixed precision.

    Args:
        epsilon: Positive float added to `nu2` to avoid dividing by zero.
        axis: Integer or list of integers, the spatial axes to take `nu2`
            over. The one non-batch axis left out is the channel axis: the
            default `[1, 2]` is height and width of a channels-last
            `(batch, height, width, channels)` image; `[2, 3]` suits a
            channels-first one and `[1]` a `(batch, steps, channels)`
            sequence.
        beta_initializer: Initializer for `beta`.
        gamma_initializer: Initializer for `gamma`.
        beta_regularizer: Optional regularizer for `beta`.
        gamma_regularizer: Optional regularizer for `gamma`.
        beta_constraint: Optional constraint for `beta`.
        gamma_constraint: Optional constraint for `gamma`.
        learned_epsilon: If `True`, add a learned epsilon (the scalar weight
            `eps_learned`, initialized to 1e-4) to `epsilon`; its absolute
            value is used.
        learned_epsilon_constraint: Optional constraint for the learned
            epsilon.
        tlu: If `True`, return `max(y, tau)` (the paper's thresholded
            linear unit) with a learned `tau` per channel.
        tau_initializer: Initializer for `tau`.
        tau_regularizer: Optional regularizer for `tau`.
        tau_constraint: Optional constraint for `tau`.
        **kwargs: Base layer keyword arguments (e.g. `name` and `dtype`).

    Call arguments:
        inputs: Input tensor of rank 3 or more, with a defined channel size.
        mask: Optional boolean tensor with the input's shape without its
            last axis, as `keras.layers.Masking` makes it, or of the input's
            rank and broadcastable to it. Masked positions are left out of
            `nu2`.

    Example:

    >>> layer = keras_norms.FilterResponseNormalization(tlu=True)
    >>> images = np.random.uniform(size=(1, 32, 32, 3))
    >>> y = layer(images)  # mean square 1 per image and channel, then TLU

    Reference:
        - [Singh and Krishnan, 2020](https://arxiv.org/abs/1911.09737).
    """

    def __init__(
        self,
        epsilon=1e-6,
        axis=(1, 2),
        beta_initializer="zeros",
        gamma_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        learned_epsilon=False,
        learned_epsilon_constraint=None,
        tlu=False,
        tau_initializer="zeros",
        tau_regularizer=None,
        tau_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.epsilon = _validation.check_epsilon(epsilon)
        axis = _validation.check_axis(axis, allow_list=True)
        axes = (axis,) if isinstance(axis, int) else axis
        if 0 in axes:
            raise ValueError(
                "Argument `axis` must list spatial axes, not the batch axis "
                f"0. Received: axis={axis!r}"
            )
        # A list, as tensorflow-addons kept it and wrote it to configs.
        self.axis = list(axes)
        for name, value in (("learned_epsilon", learned_epsilon), ("tlu", tlu)):
            if not isinstance(value, bool):
                raise ValueError(f"Argument `{name}` must be a bool. Received: {name}={value!r}")
        self.learned_epsilon = learned_epsilon
        self.tlu = tlu
        _weights.set_arguments(
            self,
            "gamma",
            initializer=gamma_initializer,
            regularizer=gamma_regularizer,
            constraint=gamma_constraint,
        )
        _weights.set_arguments(
            self,
            "beta",
            initializer=beta_initializer,
            regularizer=beta_regularizer,
            constraint=beta_constraint,
        )
        _weights.set_arguments(
            self,
            "tau",
            initializer=tau_initializer,
            regularizer=tau_regularizer,
            constraint=tau_constraint,
        )
        self.learned_epsilon_constraint = constraints.get(learned_epsilon_constraint)
        self.supports_masking = True

        self.gamma = None
        self.beta = None
        self.tau = None
        self.eps_learned = None
        if self.learned_epsilon:
            # Created here, not in build, as tensorflow-addons did: code
            # written for it reads `eps_learned` before the first call.
            self.eps_learned = self.add_weight(
                shape=(1,),
                name="learned_epsilon",
                initializer=initializers.Constant(1e-4),
                constraint=self.learned_epsilon_constraint,
                trainable=True,
                autocast=False,
            )

    def build(self, input_shape):
        _validation.check_min_rank(input_shape, 3, self.name)
        ndim = len(input_shape)
        self._axes = _validation.resolve_axes(tuple(self.axis), ndim)
        channel_axes = [a for a in range(1, ndim) if a not in self._axes]
        if len(channel_axes) != 1:
            raise ValueError(
                f"Layer {self.name} needs argument `axis` to list every "
                "non-batch axis but one, the channel axis. Received: "
                f"axis={self.axis!r} for an input of shape "
                f"{tuple(input_shape)}"
            )
        (self._channel_axis,) = channel_axes
        _validation.check_channels_defined(input_shape, channel_axes, self.name)
        channels = input_shape[self._channel_axis]
        self._broadcast_shape = _weights.broadcast_shape(input_shape, (self._channel_axis,))
        shape = (channels,)
        self.gamma = _weights.add_affine(self, "gamma", shape)
        self.beta = _weights.add_affine(self, "beta", shape)
        if self.tlu:
            self.tau = _weights.add_affine(self, "tau", shape)
        self.input_spec = InputSpec(ndim=ndim, axes={self._channel_axis: channels})

    def call(self, inputs, mask=None):
        if mask is not None:
            mask = _masks.as_input_rank(mask, inputs, self.name)
        compute_dtype = backend.result_type(inputs.dtype, "float32")
        x = ops.cast(inputs, compute_dtype)
        epsilon = ops.cast(self.epsilon, compute_dtype)
        if self.learned_epsilon:
            epsilon = epsilon + ops.abs(ops.cast(self.eps_learned, compute_dtype))
        nu2, _ = _statistics.mean(ops.square(x), self._axes, mask=mask)
        outputs = x * ops.rsqrt(nu2 + epsilon)
        outputs = self._weight_as(self.gamma, compute_dtype) * outputs
        outputs = outputs + self._weight_as(self.beta, compute_dtype)
        if self.tlu:
            outputs = ops.maximum(outputs, self._weight_as(self.tau, compute_dtype))
        return ops.cast(outputs, self.compute_dtype)

    def _weight_as(self, weight, dtype):
        return _weights.as_broadcast(weight, dtype, self._broadcast_shape)

    def compute_output_shape(self, input_shape):
        # Keras 2 built a layer when asked its output shape, and code written
        # for tensorflow-addons' layer counts on the weights being there.
        if not self.built:
            self.build(input_shape)
        return tuple(input_shape)

    def get_config(self):
        base_config = super().get_config()
        config = {
            "epsilon": self.epsilon,
            "axis": list(self.axis),
            **_weights.config(self, "beta", "gamma"),
            "learned_epsilon": self.learned_epsilon,
            "learned_epsilon_constraint": constraints.serialize(self.learned_epsilon_constraint),
            "tlu": self.tlu,
            **_weights.config(self, "tau"),
        }
        return {**base_config, **config}
