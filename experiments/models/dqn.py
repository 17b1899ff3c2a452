"""A double deep Q-network learner (van Hasselt et al. 2016, on Mnih et al. 2015's DQN)."""

import keras
import tensorflow as tf


class DoubleDQN(keras.Model):
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

    def train_step(self, data):
        transitions, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        observations, actions, rewards, next_observations, terminals = transitions
        best = tf.argmax(self.q(next_observations, training=False), axis=1)
        next_values = tf.gather(self.target(next_observations, training=False), best, batch_dims=1)
        targets = tf.stop_gradient(rewards + self.gamma * (1.0 - terminals) * next_values)
        with tf.GradientTape() as tape:
            values = tf.gather(self.q(observations, training=True), actions, batch_dims=1)
            loss = keras.losses.Huber()(targets, values)
        variables = self.q.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        self.loss_tracker.update_state(loss)
        self.q_tracker.update_state(tf.reduce_mean(values))
        return {metric.name: metric.result() for metric in self.metrics}

    def sync_target(self):
        """Copies `q`'s weights (every variable, statistics too) into `target`."""
        self.target.set_weights(self.q.get_weights())


def greedy_policy(q, jit_compile):
    """A compiled function: observations -> the actions of highest Q-value,
    `q` in inference mode."""

    @tf.function(jit_compile=jit_compile, reduce_retracing=True)
    def act(observations):
        return tf.argmax(q(observations, training=False), axis=1)

    return act
