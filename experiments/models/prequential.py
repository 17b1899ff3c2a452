"""Online learning's test-then-train step (prequential evaluation, Dawid
1984): each batch of the stream is first scored by the model as it stands, in
inference mode, and only then learnt from, so every example is predicted
before it is trained on and the stream is its own test set."""

import keras
from keras import ops

from .steps import SteppedModel


class Prequential(SteppedModel):
    """`classifier` trained online with its compiled loss: each training step
    scores its batch before the update (`prequential_accuracy`), and over the
    first `window` steps of each segment of `segment_steps` steps only too
    (`recovery_accuracy`: how fast it adapts after a shift). Both reset with
    the epoch, one epoch being one segment, as the mean `loss` does."""

    def __init__(self, classifier, segment_steps, window, **kwargs):
        super().__init__(**kwargs)
        self.classifier = classifier
        self.segment_steps = segment_steps
        self.window = window
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.prequential = keras.metrics.SparseCategoricalAccuracy(name="prequential_accuracy")
        self.recovery = keras.metrics.SparseCategoricalAccuracy(name="recovery_accuracy")

    @property
    def metrics(self):
        # Listed so that Keras resets them at each epoch.
        return [self.loss_tracker, self.prequential, self.recovery]

    def call(self, inputs, training=False):
        return self.classifier(inputs, training=training)

    def stateful_train_step(self, data):
        images, labels = data
        # Before the update: the prediction the stream is scored by.
        predictions = self.classifier(images, training=False)
        step = ops.cast(self.optimizer.iterations, "int32")
        in_window = ops.cast(step % self.segment_steps < self.window, "float32")
        self.prequential.update_state(labels, predictions)
        self.recovery.update_state(
            labels, predictions, sample_weight=ops.full(ops.shape(labels), in_window)
        )

        def objective():
            outputs = self.classifier(images, training=True)
            return (self.compute_loss(x=images, y=labels, y_pred=outputs),), None

        variables = self.classifier.trainable_variables
        (loss,), _, (grads,) = self.loss_gradients(objective, [variables])
        self.optimizer.apply_gradients(zip(grads, variables))
        self.loss_tracker.update_state(loss, sample_weight=ops.shape(images)[0])
        return {metric.name: metric.result() for metric in self.metrics}
