"""Custom training steps written once for every Keras backend.

Keras's `fit` calls a model's `train_step(data)` on TensorFlow and torch,
which updates variables in place, but `train_step(state, data)` on JAX, which
must return the new state instead. `SteppedModel` takes the stateful form on
every backend: on JAX it runs the step inside a `keras.StatelessScope` mapped
to fit's state and hands back the values the step assigned. Gradients come
from `loss_gradients` (a tape on TensorFlow, autograd on torch, `jax.vjp` on
JAX), conditional updates from `SteppedModel.update_if`.

A model with several optimizers (a GAN's two) passes them to `compile` as an
`OptimizerGroup`: JAX's `fit` carries the variables of `model.optimizer`
alone between steps.
"""

import keras

# Keras's JAX `fit` passes (trainable, non-trainable, optimizer, metrics)
# variables' values to `train_step`, and the same without the optimizer's to
# `test_step` and `predict_step`.
_TRAIN_STATE = ("trainable_variables", "non_trainable_variables", "optimizer", "metrics_variables")
_EVAL_STATE = ("trainable_variables", "non_trainable_variables", "metrics_variables")


def _on_jax():
    return keras.config.backend() == "jax"


class OptimizerGroup(keras.optimizers.Optimizer):
    """Several optimizers, each with the network it updates, seen by `fit` as one.

    Its `variables` are its members' (so JAX's `fit` carries them from step
    to step) and `build` builds each member on its own network's trainable
    variables. Steps apply each member's gradients themselves; the group
    itself never applies any.

    Args:
        members: pairs `(optimizer, network)`.
    """

    def __init__(self, members, name="optimizer_group"):
        super().__init__(learning_rate=0.0, name=name)
        self.members = list(members)

    @property
    def variables(self):
        return [variable for optimizer, _ in self.members for variable in optimizer.variables]

    def build(self, variables):
        for optimizer, network in self.members:
            if not optimizer.built:
                optimizer.build(network.trainable_variables)
        self.built = True

    def apply(self, grads, trainable_variables=None):
        raise NotImplementedError(
            "OptimizerGroup applies no gradients: each member's step applies its own"
        )


class SteppedModel(keras.Model):
    """A model whose `train_step` and `test_step` are written once, statefully.

    Subclasses implement `stateful_train_step(data)` (and, to evaluate,
    `stateful_test_step(data)`), using `loss_gradients` for gradients and
    `update_if` for a conditional update.
    Its networks are built before it is: it has no shapes to infer from data.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.built = True

    def stateful_train_step(self, data):
        raise NotImplementedError(f"{type(self).__name__} defines no training step")

    def stateful_test_step(self, data):
        raise NotImplementedError(f"{type(self).__name__} defines no evaluation step")

    def train_step(self, *args):
        if _on_jax():
            return self._stateless(self.stateful_train_step, _TRAIN_STATE, *args)
        return self.stateful_train_step(*args)

    def test_step(self, *args):
        if _on_jax():
            return self._stateless(self.stateful_test_step, _EVAL_STATE, *args)
        return self.stateful_test_step(*args)

    def _state_variables(self, names):
        return [
            self.optimizer.variables if name == "optimizer" else getattr(self, name)
            for name in names
        ]

    def _stateless(self, step, names, state, data):
        groups = self._state_variables(names)
        variables = [variable for group in groups for variable in group]
        values = [value for group_values in state for value in group_values]
        logs, new_values = _scoped(lambda: step(data), variables, values)
        new_state, start = [], 0
        for group in groups:
            new_state.append(new_values[start : start + len(group)])
            start += len(group)
        return logs, tuple(new_state)

    def _all_variables(self):
        """Every variable a step may read: the model's, its optimizers' and
        its metrics' (on JAX each must be in the scope's mapping)."""
        optimizer = getattr(self, "optimizer", None)
        extra = optimizer.variables if optimizer is not None else []
        unique = {id(variable): variable for variable in self.variables + extra}
        unique.update((id(variable), variable) for variable in self.metrics_variables)
        return list(unique.values())

    def loss_gradients(self, compute, wrt):
        """`loss_gradients` for a step of this model, whose every variable
        `compute` may read."""
        return loss_gradients(compute, wrt, self._all_variables())

    def update_if(self, condition, update):
        """Runs `update()` (stateful, returning nothing) where the scalar
        `condition` holds, inside a compiled step too."""
        if not _on_jax():
            keras.ops.cond(condition, lambda: _ran(update), lambda: keras.ops.zeros(()))
            return
        import jax

        every = self._all_variables()
        current = [variable.value for variable in every]

        def updated(values):
            return _scoped(update, every, values)[1]

        values = jax.lax.cond(condition, updated, lambda values: list(values), current)
        for variable, value in zip(every, values):
            variable.assign(value)


def loss_gradients(compute, wrt, variables):
    """Runs `compute()`, which returns `(losses, aux)`, once in a
    differentiable scope: returns `(losses, aux, grads)`, `grads[i]` the
    gradients of `losses[i]` with respect to the variables `wrt[i]`.
    Variables `compute` assigns (batch norm's moving statistics, seed
    generators) keep their new values. On JAX, `variables` are all those
    `compute` reads."""
    backend = keras.config.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape(persistent=len(wrt) > 1) as tape:
            losses, aux = compute()
        grads = [tape.gradient(loss, group) for loss, group in zip(losses, wrt)]
        return losses, aux, grads
    if backend == "torch":
        import torch

        losses, aux = compute()
        grads = [
            torch.autograd.grad(
                loss,
                [variable.value for variable in group],
                retain_graph=index < len(losses) - 1,
                allow_unused=True,
            )
            for index, (loss, group) in enumerate(zip(losses, wrt))
        ]
        return losses, aux, grads
    return _jax_loss_gradients(compute, wrt, variables)


def _jax_loss_gradients(compute, wrt, variables):
    import jax

    current = [variable.value for variable in variables]
    differentiated = {id(variable) for group in wrt for variable in group}
    kept = [i for i, variable in enumerate(variables) if id(variable) not in differentiated]

    def function(*values):
        given = {
            id(variable): value
            for group, group_values in zip(wrt, values)
            for variable, value in zip(group, group_values)
        }
        mapping = [given.get(id(variable), value) for variable, value in zip(variables, current)]
        (losses, aux), new_values = _scoped(compute, variables, mapping)
        # The values of the variables the pass may assign, for the caller to keep.
        return tuple(losses), (aux, [new_values[i] for i in kept])

    primals = [[variable.value for variable in group] for group in wrt]
    losses, pullback, (aux, updates) = jax.vjp(function, *primals, has_aux=True)
    grads = []
    for index in range(len(losses)):
        cotangent = tuple(
            jax.numpy.ones_like(loss) if other == index else jax.numpy.zeros_like(loss)
            for other, loss in enumerate(losses)
        )
        grads.append(pullback(cotangent)[index])
    for i, value in zip(kept, updates):
        variables[i].assign(value)
    return losses, aux, grads


def _scoped(function, variables, values):
    """`function()`'s result with `variables` reading `values`, and their
    values after it: run in a `keras.StatelessScope`, nothing assigned."""
    with keras.StatelessScope(state_mapping=list(zip(variables, values))) as scope:
        result = function()
    return result, [scope.get_current_value(variable) for variable in variables]


def _ran(update):
    # Both of a conditional's branches return a tensor of one structure.
    update()
    return keras.ops.zeros(())
