"""Per-layer gradient norms of a fully connected network: the measure of
vanishing and exploding gradients (Glorot & Bengio 2010; Yang et al. 2019)."""

import math

import keras
import numpy as np

# A norm below this counts as this, so that the ratio of two stays finite.
TINY = 1e-30


def hidden_layers(model, depth):
    """The `depth` hidden layers' linear maps of an `experiments.models.mlp`
    network, first to last: `dense<i>`, or the weight norm wrapping it."""
    names = {layer.name for layer in model.layers}
    return [
        model.get_layer(f"dense{i}_weight" if f"dense{i}_weight" in names else f"dense{i}")
        for i in range(1, depth + 1)
    ]


def gradient_norms(model, layers, inputs, labels):
    """The L2 norm of the loss gradient with respect to each of `layers`'
    trainable weights on one batch, the model in training mode (batch norm on
    the batch's statistics, as a training step sees it). The model's state
    (moving statistics, weight norm's initialization) is left as it was."""
    from ..models.steps import loss_gradients

    state = [keras.ops.convert_to_numpy(variable) for variable in model.non_trainable_variables]
    weights = [layer.trainable_weights for layer in layers]

    def loss():
        outputs = model(inputs, training=True)
        return (
            keras.ops.mean(keras.losses.sparse_categorical_crossentropy(labels, outputs)),
        ), None

    _, _, (gradients,) = loss_gradients(loss, [sum(weights, [])], model.variables)
    for variable, value in zip(model.non_trainable_variables, state):
        variable.assign(value)
    squares = [
        0.0 if g is None else float(np.sum(keras.ops.convert_to_numpy(g) ** 2)) for g in gradients
    ]
    ends = np.cumsum([len(layer) for layer in weights])
    return [math.sqrt(sum(squares[end - len(layer) : end])) for layer, end in zip(weights, ends)]


class GradientNormLogger(keras.callbacks.Callback):
    """Logs each hidden layer's gradient norm on one fixed training batch: at
    initialization as `init_grad_norm_layer_<i>` and `init_grad_log_ratio`
    (log10 of the first layer's norm over the last's: positive when the
    gradients grow towards the input, as they explode), and after every epoch
    as the curves `grad_norm_layer_<i>` (step: the training steps done)."""

    def __init__(self, batch, depth, steps_per_epoch):
        super().__init__()
        self._batch = batch
        self._depth = depth
        self._steps_per_epoch = steps_per_epoch
        self._layers = None

    def _norms(self):
        return gradient_norms(self.model, self._layers, *self._batch)

    def on_train_begin(self, logs=None):
        import mlflow

        self._layers = hidden_layers(self.model, self._depth)  # the model is set by now
        norms = self._norms()
        ratio = math.log10(max(norms[0], TINY) / max(norms[-1], TINY))
        layers = {f"init_grad_norm_layer_{i}": n for i, n in enumerate(norms, 1)}
        mlflow.log_metrics({**layers, "init_grad_log_ratio": ratio})

    def on_epoch_end(self, epoch, logs=None):
        import mlflow

        step = (epoch + 1) * self._steps_per_epoch
        norms = self._norms()
        mlflow.log_metrics({f"grad_norm_layer_{i}": n for i, n in enumerate(norms, 1)}, step=step)
