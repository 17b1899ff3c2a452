"""Feed-forward stylization (Johnson et al. 2016; Ulyanov et al. 2016) at
Fashion-MNIST scale.

A network maps a content image to a stylized one in one pass, trained with a
content loss (its output's features against the content image's) and a style
loss (the Gram matrices of its output's features against the style
texture's). The features are a fixed bank of random convolutions: Gram
matrices of a random-filter network carry texture statistics too
(Ustyuzhaninov et al. 2017), and need no pretrained network offline. The
bank's seed is fixed, the same for every run: the losses of every run are
measured with one instrument.
"""

import keras
import numpy as np
from keras import ops

from .steps import SteppedModel

BANK_SEED = 1234
BANK_WIDTHS = (32, 32, 32)  # channels of the bank's 3x3 convolutions
BANK_STRIDES = (1, 2, 1)
CONTENT_LAYER = 1  # the bank layer (from 0) the content loss compares
TEXTURE_PERIOD = 6  # pixels per stripe period of the style texture


def feature_bank(size=28):
    """A fixed random convolution bank: (size, size, 1) images to the ReLU
    features of each of its layers (a list), not trainable."""
    images = keras.Input((size, size, 1), name="image")
    x, features = images, []
    for index, (width, stride) in enumerate(zip(BANK_WIDTHS, BANK_STRIDES)):
        x = keras.layers.Conv2D(
            width,
            3,
            strides=stride,
            padding="same",
            activation="relu",
            kernel_initializer=keras.initializers.HeNormal(seed=BANK_SEED + index),
            name=f"bank{index + 1}",
        )(x)
        features.append(x)
    bank = keras.Model(images, features, name="random_feature_bank")
    bank.trainable = False
    return bank


def gram(features):
    """Per image, the channels' Gram matrix of `features` (batch, H, W, C)
    over the positions, divided by the positions' count: (batch, C, C)."""
    _, height, width, channels = ops.shape(features)
    flat = ops.reshape(features, (-1, height * width, channels))
    return ops.matmul(ops.transpose(flat, (0, 2, 1)), flat) / (height * width)


def style_texture(size=28):
    """The style image: diagonal stripes of `TEXTURE_PERIOD` pixels, full
    contrast, (1, size, size, 1) in [0, 1]. Generated, so nothing downloads."""
    rows, columns = np.mgrid[0:size, 0:size]
    phase = 2 * np.pi * (rows + columns) / TEXTURE_PERIOD
    return (0.5 + 0.5 * np.sin(phase)).astype("float32")[None, :, :, None]


def lowered_contrast(images, contrast):
    """`images` in [0, 1] with their contrast scaled by `contrast` about mid-grey,
    as a low-contrast photograph of the same content."""
    return 0.5 + contrast * (images - 0.5)


def brightened(images, brightness):
    """`images` in [0, 1] with `brightness` added to every pixel, clipped to
    [0, 1], as an overexposed photograph of the same content (its brightest
    parts saturate). TensorFlow's ops: the test pipeline (`tf.data`) maps it,
    on any backend."""
    import tensorflow as tf

    return tf.clip_by_value(images + brightness, 0.0, 1.0)


class Stylizer(SteppedModel):
    """Trains `network` (content image -> stylized image) with
    `content_weight` x the mean squared difference of the bank's
    `CONTENT_LAYER` features (output against content) plus `style_weight` x
    the mean over the bank's layers of the mean squared difference of the
    output's Gram matrices against the texture's. Logs `loss`,
    `content_loss` and `style_loss`; evaluation does the same in inference
    mode."""

    def __init__(self, network, texture, content_weight=1.0, style_weight=1.0, **kwargs):
        super().__init__(**kwargs)
        self.network = network
        self.bank = feature_bank(texture.shape[1])
        self.texture_grams = [gram(f) for f in self.bank(texture)]
        self.content_weight, self.style_weight = content_weight, style_weight
        self.trackers = {
            name: keras.metrics.Mean(name=name) for name in ("loss", "content_loss", "style_loss")
        }

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, images, training=False):
        return self.network(images, training=training)

    def losses_of(self, content, stylized):
        """(content loss, style loss) of `stylized` for `content`, per batch."""
        content_features = self.bank(content)[CONTENT_LAYER]
        features = self.bank(stylized)
        content_loss = ops.mean(ops.square(features[CONTENT_LAYER] - content_features))
        style_loss = sum(
            ops.mean(ops.square(gram(f) - target))
            for f, target in zip(features, self.texture_grams)
        ) / len(features)
        return content_loss, style_loss

    def _scores(self, content, training):
        content_loss, style_loss = self.losses_of(content, self.network(content, training=training))
        loss = self.content_weight * content_loss + self.style_weight * style_loss
        return loss, content_loss, style_loss

    def _update(self, count, *scores):
        # Weighted by the batch's images: an epoch's value is the mean over its images.
        for tracker, value in zip(self.trackers.values(), scores):
            tracker.update_state(value, sample_weight=count)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def stateful_train_step(self, data):
        content, _, _ = keras.utils.unpack_x_y_sample_weight(data)

        def objective():
            loss, *parts = self._scores(content, training=True)
            return (loss,), parts

        variables = self.network.trainable_variables
        (loss,), parts, (grads,) = self.loss_gradients(objective, [variables])
        self.optimizer.apply_gradients(zip(grads, variables))
        return self._update(ops.shape(content)[0], loss, *parts)

    def stateful_test_step(self, data):
        content, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self._update(ops.shape(content)[0], *self._scores(content, training=False))
