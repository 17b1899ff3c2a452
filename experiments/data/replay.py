"""A replay memory of an agent's transitions, as DQN learns from (Mnih et al. 2015)."""

import numpy as np

FIELDS = ("observations", "actions", "rewards", "next_observations", "terminals")


class ReplayBuffer:
    """The last `capacity` transitions, sampled uniformly.

    A transition is (observation, action, reward, next observation, terminal):
    `terminal` is 1.0 where the episode ended in a terminal state (no value
    beyond it) and 0.0 elsewhere, a time limit included, so that a
    truncated episode still bootstraps from its next observation.
    """

    def __init__(self, capacity, observation_shape):
        if capacity < 1:
            raise ValueError(f"capacity must be a positive integer, got capacity={capacity!r}")
        self.capacity = capacity
        self._arrays = {
            "observations": np.zeros((capacity, *observation_shape), np.float32),
            "actions": np.zeros(capacity, np.int32),
            "rewards": np.zeros(capacity, np.float32),
            "next_observations": np.zeros((capacity, *observation_shape), np.float32),
            "terminals": np.zeros(capacity, np.float32),
        }
        self._added = 0  # every transition ever added; the newest overwrite the oldest

    def __len__(self):
        return min(self._added, self.capacity)

    def add(self, observations, actions, rewards, next_observations, terminals):
        """Adds a batch of transitions, one per row of each argument."""
        batch = (observations, actions, rewards, next_observations, terminals)
        rows = (self._added + np.arange(len(actions))) % self.capacity
        for name, values in zip(FIELDS, batch):
            self._arrays[name][rows] = values
        self._added += len(actions)

    def sample(self, count, rng):
        """`count` transitions drawn uniformly with replacement by `rng` (a NumPy
        Generator), as a tuple in `FIELDS` order."""
        if not len(self):
            raise ValueError("cannot sample an empty replay buffer")
        rows = rng.integers(0, len(self), count)
        return tuple(self._arrays[name][rows] for name in FIELDS)
