"""Online learning's test-then-train step (prequential evaluation, Dawid
1984): each batch of the stream is first scored by the model as it stands, in
inference mode, and only then learnt from, so every example is predicted
before it is trained on and the stream is its own test set."""

import keras
import tensorflow as tf


class Prequential(keras.Model):
    """`classifier` trained online: each training step scores its batch
    before the update (`prequential_accuracy`), and over the first `window`
    steps of each segment of `segment_steps` steps only too
    (`recovery_accuracy`: how fast it adapts after a shift). Both reset with
    the epoch, one epoch being one segment."""

    def __init__(self, classifier, segment_steps, window, **kwargs):
        super().__init__(**kwargs)
        self.classifier = classifier
        self.segment_steps = segment_steps
        self.window = window
        self.prequential = keras.metrics.SparseCategoricalAccuracy(name="prequential_accuracy")
        self.recovery = keras.metrics.SparseCategoricalAccuracy(name="recovery_accuracy")

    def call(self, inputs, training=False):
        return self.classifier(inputs, training=training)

    def train_step(self, data):
        images, labels = data
        # Before the update: the prediction the stream is scored by.
        predictions = self.classifier(images, training=False)
        step = tf.cast(self.optimizer.iterations, "int32")
        in_window = tf.cast(step % self.segment_steps < self.window, "float32")
        self.prequential.update_state(labels, predictions)
        self.recovery.update_state(
            labels, predictions, sample_weight=tf.fill(tf.shape(labels), in_window)
        )
        return super().train_step(data)
