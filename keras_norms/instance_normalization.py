"""Instance normalization for 1D, 2D and 3D inputs, with masking."""

import numbers

import keras
from keras import backend, ops
from keras.layers import InputSpec, Layer

from keras_norms import _masks, _statistics, _validation, _weights, kernels


@keras.saving.register_keras_serializable(package="keras_norms")
class InstanceNormalization(Layer):
    """Normalizes each channel of each sample with its own statistics.

    For every sample `n` and channel `c`, the mean and variance are taken over
    all other axes (time, height, width, depth):

    `y[n, ..., c] = gamma[c] * (x[n, ..., c] - mean[n, c])
    / sqrt(var[n, c] + epsilon) + beta[c]`

    The output of one sample does not depend on the others, so the layer
    behaves the same at any batch size, batch size 1 included, and in
    training and inference alike. This is the normalization of style transfer
    and image-to-image translation generators.

    With `track_running_stats=True` the layer also keeps moving averages of
    the per-instance statistics (averaged over the batch) and normalizes with
    them in inference, as PyTorch's option of that name does. Like Keras's
    BatchNormalization, the tracked variance is the biased one.

    A drop-in for `tfa.layers.InstanceNormalization` (same argument names),
    which does not work with Keras 3, and a faster, mask-aware replacement for
    `keras.layers.GroupNormalization(groups=-1)`. Statistics and weights stay
    float32 under mixed precision.

    Args:
        axis: Integer, the channel axis (`-1` for channels last, `1` for
            channels first).
        epsilon: Positive float added to the variance to avoid dividing by
            zero.
        center: If `True`, add the offset `beta`.
        scale: If `True`, multiply by `gamma`.
        beta_initializer: Initializer for `beta`.
        gamma_initializer: Initializer for `gamma`.
        beta_regularizer: Optional regularizer for `beta`.
        gamma_regularizer: Optional regularizer for `gamma`.
        beta_constraint: Optional constraint for `beta`.
        gamma_constraint: Optional constraint for `gamma`.
        track_running_stats: If `True`, keep `moving_mean` and
            `moving_variance` and normalize with them in inference.
        momentum: Momentum of the moving averages, in [0, 1).
        **kwargs: Base layer keyword arguments (e.g. `name` and `dtype`).
            `groups` is accepted too, as in the configs tensorflow-addons
            saved (its layer was a `GroupNormalization` with one group per
            channel): -1, or the channel count (checked when the layer is
            built); any other value is refused. It is not written to our
            own configs; the read-only attribute `groups` gives
            tensorflow-addons' value.

    Call arguments:
        inputs: Input tensor of rank 3 (`(batch, steps, channels)`), 4 or 5.
        training: Python boolean. Matters only with `track_running_stats`.
        mask: Optional boolean tensor with the input's shape without its
            last axis, as `keras.layers.Masking` makes it (e.g. `(batch,
            steps)` for `(batch, steps, channels)`), or of the input's rank
            and broadcastable to it. Masked positions are left out of each
            sample's statistics. A sample whose positions are all masked
            gets finite output and is left out of the running statistics.

    Example:

    >>> layer = keras_norms.InstanceNormalization()
    >>> images = np.random.uniform(size=(1, 64, 64, 3))
    >>> y = layer(images)  # zero mean, unit variance per image and channel

    Reference:
        - [Ulyanov et al., 2016](https://arxiv.org/abs/1607.08022).
    """

    def __init__(
        self,
        axis=-1,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        track_running_stats=False,
        momentum=0.99,
        **kwargs,
    ):
        groups = kwargs.pop("groups", -1)
        if (
            isinstance(groups, bool)
            or not isinstance(groups, numbers.Integral)
            or not (groups == -1 or groups > 0)
        ):
            raise ValueError(
                "InstanceNormalization normalizes each channel on its own: "
                "argument `groups` can only be -1 (one group per channel) "
                "or, as in configs tensorflow-addons saved from a built "
                "layer, the channel count. For groups of channels use "
                f"keras.layers.GroupNormalization. Received: groups={groups!r}"
            )
        axis = _validation.check_axis(axis)
        if axis == 0:
            raise ValueError(
                "Argument `axis` must be a channel axis, not the batch axis "
                f"0. Received: axis={axis!r}"
            )
        super().__init__(**kwargs)
        self.axis = axis
        # Checked against the channel count in `build`.
        self._groups = int(groups)
        self.epsilon = _validation.check_epsilon(epsilon)
        self.momentum = _validation.check_momentum(momentum)
        self.center = center
        self.scale = scale
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
        self.track_running_stats = bool(track_running_stats)
        self.supports_masking = True

        self.gamma = None
        self.beta = None
        self.moving_mean = None
        self.moving_variance = None

    def build(self, input_shape):
        (self._channel_axis,) = _validation.check_input_shape(input_shape, self.axis, 3, self.name)
        ndim = len(input_shape)
        self._reduction_axes = tuple(a for a in range(1, ndim) if a != self._channel_axis)
        channels = input_shape[self._channel_axis]
        if self._groups not in (-1, channels):
            raise ValueError(
                f"Layer {self.name} normalizes each of its {channels} "
                "channels on its own: argument `groups` can only be -1 or "
                f"{channels} (one group per channel). For groups of channels "
                "use keras.layers.GroupNormalization. "
                f"Received: groups={self._groups!r}"
            )
        self._groups = channels
        self._broadcast_shape = _weights.broadcast_shape(input_shape, (self._channel_axis,))
        shape = (channels,)
        if self.scale:
            self.gamma = _weights.add_affine(self, "gamma", shape)
        if self.center:
            self.beta = _weights.add_affine(self, "beta", shape)
        if self.track_running_stats:
            self.moving_mean = _weights.add_moving_statistic(
                self, "moving_mean", shape, initializer="zeros"
            )
            self.moving_variance = _weights.add_moving_statistic(
                self, "moving_variance", shape, initializer="ones"
            )
        self.input_spec = InputSpec(ndim=ndim, axes={self._channel_axis: channels})

    def call(self, inputs, training=None, mask=None):
        if mask is not None:
            mask = _masks.as_input_rank(mask, inputs, self.name)
        compute_dtype = backend.result_type(inputs.dtype, "float32")
        x = ops.cast(inputs, compute_dtype)
        gamma = self._weight_as(self.gamma, compute_dtype)
        beta = self._weight_as(self.beta, compute_dtype)

        if self.track_running_stats and not (training and self.trainable):
            mean = self._weight_as(self.moving_mean, compute_dtype)
            variance = self._weight_as(self.moving_variance, compute_dtype)
            outputs = _statistics.normalize(x, mean, variance, gamma, beta, self.epsilon)
            return ops.cast(outputs, self.compute_dtype)

        if self._kernel_applies(mask):
            outputs, mean, variance = kernels.instance_norm(
                x,
                gamma,
                beta,
                self._reduction_axes,
                self.epsilon,
                with_statistics=self.track_running_stats,
            )
            count = None
        else:
            mean, variance, count = _statistics.moments(x, self._reduction_axes, mask=mask)
            outputs = _statistics.normalize(x, mean, variance, gamma, beta, self.epsilon)
        if self.track_running_stats:
            # Each sample is a group: a fully masked one is left out.
            _statistics.update_moving_statistics(
                [(self.moving_mean, mean), (self.moving_variance, variance)],
                self.momentum,
                count=count,
                grouped=True,
                nonempty=kernels.is_nonempty(x),
            )
        return ops.cast(outputs, self.compute_dtype)

    @property
    def groups(self):
        """The number of groups, read-only, as tensorflow-addons had it.

        tensorflow-addons' `InstanceNormalization` was a `GroupNormalization`
        with one group per channel: `groups` is -1 until the layer is built,
        then the channel count.
        """
        return self._groups

    def _kernel_applies(self, mask):
        return mask is None

    def _weight_as(self, weight, dtype):
        return _weights.as_broadcast(weight, dtype, self._broadcast_shape)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        base_config = super().get_config()
        config = {
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            **_weights.config(self, "beta", "gamma"),
            "track_running_stats": self.track_running_stats,
            "momentum": self.momentum,
        }
        return {**base_config, **config}
