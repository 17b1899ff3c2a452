"""A DQN agent's interaction with gymnasium's CartPole-v1: the learner that
acts epsilon-greedily in vectorized environments, stores its transitions and
updates its `experiments.models.dqn.DoubleDQN`, and the greedy evaluation
from fixed start states (the rl task, `experiments.tasks.rl`).

gymnasium is imported where an environment is made: the command line imports
the rl task, and so this module, to build `--help`, with or without it."""

import dataclasses
import math
import time

import numpy as np

ENVIRONMENT = "CartPole-v1"
OBSERVATION_SHAPE = (4,)
ACTIONS = 2
FINAL_EPSILON = 0.05  # exploration left once the schedule ends
INIT_OBSERVATIONS = 256
# Seeds of the evaluation episodes' start states, apart from training's.
EVALUATION_SEED = 10_000


class Evaluation:
    """The evaluation episodes of a run: `eval_episodes` CartPoles from fixed start
    states (seeded apart from training's), played until every one ends."""

    def __init__(self, config, act):
        self.count = config["eval_episodes"]
        self.seed = EVALUATION_SEED + config["seed"]
        self.env = _environments(self.count)
        self.act = act
        self.start_observations, _ = self.env.reset(seed=self.seed)

    def greedy(self):
        """The mean return of the greedy policy over the episodes."""
        return self.returns(lambda observations, rng: self.act(observations))

    def returns(self, policy):
        """The mean return of `policy(observations, rng) -> actions` over the episodes."""
        rng = np.random.default_rng(self.seed)
        observations, _ = self.env.reset(seed=self.seed)
        running = np.ones(self.count, bool)
        total = np.zeros(self.count)
        while running.any():
            actions = policy(observations.astype(np.float32), rng)
            observations, rewards, terminated, truncated, _ = self.env.step(actions)
            total += rewards * running
            running &= ~(terminated | truncated)
        return float(total.mean())


@dataclasses.dataclass(frozen=True)
class EpochResult:
    """What one epoch of learning gives the task to log."""

    mean_return: float  # of the training episodes ended in the epoch
    epsilon: float  # exploration at the epoch's end
    metrics: dict  # the updates' mean loss and Q-value
    seconds: float
    diverged: tuple | None  # (step, {name: value}) of a non-finite update, or None


class Learner:
    """The agent's interaction with its training environments: epsilon-greedy
    actions, transitions into the replay memory, an update per step of the
    environments, the target network refreshed every `target_every` updates."""

    def __init__(self, config, agent, act, replay):
        self.config, self.agent, self.act, self.replay = config, agent, act, replay
        self.envs = config["envs"]
        self.env = _environments(self.envs)
        self.rng = np.random.default_rng(config["seed"])
        self.observations, _ = self.env.reset(seed=config["seed"])
        # gymnasium resets an ended episode at the next step, which ignores the
        # action and returns the new start: that step is no transition.
        self.resetting = np.zeros(self.envs, bool)
        self.episode_returns = np.zeros(self.envs)
        self.episodes = []  # (environment step, return) of every ended episode
        self.steps = 0
        self.updates = 0
        self.epoch_steps = config["train_size"] // config["epochs"]
        self.explore_steps = config["explore"] * config["train_size"]

    def epsilon(self):
        if self.steps >= self.explore_steps:
            return FINAL_EPSILON
        return 1.0 - (1.0 - FINAL_EPSILON) * self.steps / self.explore_steps

    def epoch(self, epoch):
        """Steps the environments through one epoch; returns an `EpochResult`."""
        start, first_episode = time.perf_counter(), len(self.episodes)
        losses, values, diverged = [], [], None
        for _ in range(self.epoch_steps // self.envs):
            self._step()
            if self.steps < self.config["warmup"]:
                continue
            logs = self._update()
            if not all(math.isfinite(value) for value in logs.values()):
                diverged = (self.updates, logs)
                break
            losses.append(logs["loss"])
            values.append(logs["q_value"])
        ended = [episode_return for _, episode_return in self.episodes[first_episode:]]
        return EpochResult(
            float(np.mean(ended)) if ended else math.nan,
            self.epsilon(),
            {"loss": float(np.mean(losses)), "q_value": float(np.mean(values))} if losses else {},
            time.perf_counter() - start,
            diverged,
        )

    def _step(self):
        greedy = (
            self.act(self.observations.astype(np.float32))
            if self.steps >= self.config["warmup"]
            else self.rng.integers(0, ACTIONS, self.envs)
        )
        explore = self.rng.random(self.envs) < self.epsilon()
        actions = np.where(explore, self.rng.integers(0, ACTIONS, self.envs), greedy)
        next_observations, rewards, terminated, truncated, _ = self.env.step(actions)
        moved = ~self.resetting
        self.replay.add(
            self.observations[moved],
            actions[moved],
            rewards[moved],
            next_observations[moved],
            terminated[moved],
        )
        self.steps += self.envs
        self.episode_returns += rewards * moved
        ended = terminated | truncated
        for index in np.flatnonzero(ended):
            self.episodes.append((self.steps, float(self.episode_returns[index])))
            self.episode_returns[index] = 0.0
        self.resetting = ended
        self.observations = next_observations

    def _update(self):
        if not self.updates:
            # Weight norm's data-dependent init (see the module) before any update.
            observations = self.replay.sample(INIT_OBSERVATIONS, self.rng)[0]
            self.agent.q(observations, training=True)
            self.agent.sync_target()
        logs = self.agent.train_on_batch(
            self.replay.sample(self.config["batch_size"], self.rng), return_dict=True
        )
        self.updates += 1
        if self.updates % self.config["target_every"] == 0:
            self.agent.sync_target()
        return logs


def _environments(count):
    """`count` CartPoles stepped together (gymnasium's vectorized CartPole)."""
    import gymnasium

    return gymnasium.make_vec(ENVIRONMENT, num_envs=count, vectorization_mode="vector_entry_point")
