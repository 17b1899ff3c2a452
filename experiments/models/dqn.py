"""A double deep Q-network learner (van Hasselt et al. 2016, on Mnih et al. 2015's DQN)."""

import keras
import numpy as np
from keras import ops

from .steps import SteppedModel


class DoubleDQN(SteppedModel):
    """Q-learning on replayed transitions with a target network.

    `q` is trained on minibatches (observations, actions, rewards, next
    observations, terminals) with the Huber loss between Q(s, a) and
    r + gamma * Q_target(s', argmax_a' Q(s', a')), nothing beyond a terminal
    state: the online network picks the next action, the target network
    values it (double Q-learning, which keeps plain DQN's overestimation out
    of the comparison). `target` has `q`'s architecture and takes its weights
    at `sync_target()`, batch norm's moving statistics and weight norm's
    scales included. Both score next states in inference mode, as the agent
    acts: batch norm's training-mode statistics are the update minibatch's.
    """

    def __init__(self, q, target, gamma=0.99, **kwargs):
        super().__init__(**kwargs)
        self.q, self.target, self.gamma = q, target, gamma
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.q_tracker = keras.metrics.Mean(name="q_value")

    @property
    def metrics(self):
        return [self.loss_tracker, self.q_tracker]

    def call(self, observations, training=False):
        return self.q(observations, training=training)

    def stateful_train_step(self, data):
        transitions, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        # Tensors: on torch, `train_on_batch` passes the NumPy arrays as they are.
        observations, actions, rewards, next_observations, terminals = (
            ops.convert_to_tensor(x) for x in transitions
        )
        best = ops.argmax(self.q(next_observations, training=False), axis=1)
        next_values = _chosen(self.target(next_observations, training=False), best)
        targets = ops.stop_gradient(rewards + self.gamma * (1.0 - terminals) * next_values)

        def objective():
            values = _chosen(self.q(observations, training=True), actions)
            return (keras.losses.Huber()(targets, values),), values

        variables = self.q.trainable_variables
        (loss,), values, (grads,) = self.loss_gradients(objective, [variables])
        self.optimizer.apply_gradients(zip(grads, variables))
        self.loss_tracker.update_state(loss)
        self.q_tracker.update_state(ops.mean(values))
        return {metric.name: metric.result() for metric in self.metrics}

    def sync_target(self):
        """Copies `q`'s weights (every variable, statistics too) into `target`."""
        self.target.set_weights(self.q.get_weights())


def _chosen(values, actions):
    """Each row's entry of `values` (batch, actions) at its `actions` (batch,)."""
    return ops.take_along_axis(values, ops.expand_dims(actions, 1), axis=1)[:, 0]


def greedy_policy(q, jit_compile):
    """A function: observations -> the actions of highest Q-value (a NumPy
    array), `q` in inference mode, compiled with XLA or `jax.jit` where
    `jit_compile`."""
    backend = keras.config.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function(jit_compile=jit_compile, reduce_retracing=True)
        def act(observations):
            return tf.argmax(q(observations, training=False), axis=1)

        return lambda observations: act(observations).numpy()
    if backend == "jax" and jit_compile:
        import jax

        # Stateless, so that each call sees the network's current weights.
        @jax.jit
        def best(trainable, non_trainable, observations):
            values, _ = q.stateless_call(trainable, non_trainable, observations, training=False)
            return ops.argmax(values, axis=1)

        return lambda observations: np.asarray(
            best(
                [v.value for v in q.trainable_variables],
                [v.value for v in q.non_trainable_variables],
                observations,
            )
        )
    return lambda observations: ops.convert_to_numpy(
        ops.argmax(q(observations, training=False), axis=1)
    )
