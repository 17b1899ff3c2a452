"""The rl task: a double DQN agent on CartPole, the norm in its Q-network."""

import keras
import numpy as np
import pytest

import keras_norms  # noqa: F401  (registers the layers the logged models hold)
from experiments.cli import main
from experiments.config import base_config
from experiments.data.replay import ReplayBuffer
from experiments.models.agent import Evaluation, Learner
from experiments.models.dqn import DoubleDQN, greedy_policy
from experiments.models.mlp import build_mlp
from experiments.run_config import RunConfig
from experiments.tasks import TASKS

TINY = {"epochs": 2, "train_size": 1600}
TINY_OPTIONS = ["--warmup", "400", "--eval-episodes", "4", "--target-every", "50"]


def test_the_replay_buffer_keeps_the_newest_transitions():
    replay = ReplayBuffer(5, (2,))
    assert len(replay) == 0
    with pytest.raises(ValueError, match="empty"):
        replay.sample(1, np.random.default_rng(0))
    for start in (0, 3):  # 6 transitions into 5 places: the first is overwritten
        steps = np.arange(start, start + 3)
        replay.add(
            np.stack([steps, steps], 1), steps, steps * 1.0, np.stack([steps] * 2, 1), 0 * steps
        )
    assert len(replay) == 5
    observations, actions, rewards, next_observations, terminals = replay.sample(
        200, np.random.default_rng(0)
    )
    assert set(actions) == {1, 2, 3, 4, 5}
    np.testing.assert_array_equal(observations[:, 0], actions)
    np.testing.assert_array_equal(rewards, actions)
    assert observations.dtype == next_observations.dtype == terminals.dtype == np.float32
    with pytest.raises(ValueError, match="capacity=0"):
        ReplayBuffer(0, (2,))


def _q(norm="none", seed=0):
    return build_mlp(
        (4,),
        2,
        norm,
        depth=2,
        seed=seed,
        activation="relu",
        init="scaled",
        output_activation="linear",
        input_name="observation",
    )


def _transitions(count=32, seed=0):
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(count, 4)).astype("float32"),
        rng.integers(0, 2, count).astype("int32"),
        np.ones(count, "float32"),
        rng.normal(size=(count, 4)).astype("float32"),
        (rng.random(count) < 0.3).astype("float32"),
    )


def test_the_update_minimizes_the_double_q_learning_huber_loss():
    agent = DoubleDQN(_q(seed=0), _q(seed=1), gamma=0.9)
    agent.compile(optimizer=keras.optimizers.SGD(0.01))
    observations, actions, rewards, next_observations, terminals = batch = _transitions()
    q_next = agent.q.predict_on_batch(next_observations)
    target_next = agent.target.predict_on_batch(next_observations)
    # The online network picks the action, the target network values it.
    next_values = target_next[np.arange(32), q_next.argmax(1)]
    assert not np.allclose(next_values, target_next.max(1))  # the two differ here
    targets = rewards + 0.9 * (1 - terminals) * next_values
    errors = targets - agent.q.predict_on_batch(observations)[np.arange(32), actions]
    huber = np.where(np.abs(errors) <= 1, 0.5 * errors**2, np.abs(errors) - 0.5)
    logs = agent.train_on_batch(batch, return_dict=True)
    assert logs["loss"] == pytest.approx(huber.mean(), rel=1e-5)
    # The target network does not learn; the online one does.
    np.testing.assert_array_equal(agent.target.predict_on_batch(next_observations), target_next)
    assert not np.allclose(agent.q.predict_on_batch(next_observations), q_next)


def test_the_target_network_takes_every_weight_batch_statistics_too():
    agent = DoubleDQN(_q("batch", seed=0), _q("batch", seed=1))
    agent.compile(optimizer=keras.optimizers.Adam(1e-3))
    for seed in range(3):
        agent.train_on_batch(_transitions(seed=seed))
    moving = [w for w in agent.q.weights if "moving" in w.path]
    assert moving and not all(
        np.allclose(keras.ops.convert_to_numpy(w), keras.ops.convert_to_numpy(t))
        for w, t in zip(agent.q.weights, agent.target.weights)
    )
    agent.sync_target()
    for w, t in zip(agent.q.weights, agent.target.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(w), keras.ops.convert_to_numpy(t))


def test_xla_updates_as_the_uncompiled_step_to_rounding():
    losses = {}
    for jit in (False, True):
        keras.utils.set_random_seed(0)
        agent = DoubleDQN(_q("weight"), _q("weight"))
        agent.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit)
        agent.q(_transitions(seed=9)[0], training=True)
        agent.sync_target()
        losses[jit] = [agent.train_on_batch(_transitions(seed=s))[0] for s in range(4)]
    np.testing.assert_allclose(losses[True], losses[False], rtol=1e-4)
    observations = _transitions()[0]
    actions = greedy_policy(agent.q, True)(observations)
    np.testing.assert_array_equal(actions, agent.q.predict_on_batch(observations).argmax(1))


def _config(**options):
    task = TASKS["rl"]
    params = {**base_config(task), "norm": "none", "train_size": 800, "epochs": 2, "warmup": 400}
    params.update(options)
    return RunConfig.configured(task, params)


def test_the_learner_stores_each_move_and_counts_each_episode():
    config = _config(envs=4, warmup=799, explore=0.75)  # random actions; one update, last
    agent = DoubleDQN(_q(), _q())
    agent.compile(optimizer=keras.optimizers.Adam(1e-3))
    replay = ReplayBuffer(config["buffer"], (4,))
    learner = Learner(config, agent, greedy_policy(agent.q, False), replay)
    results = [learner.epoch(epoch) for epoch in (1, 2)]
    assert learner.steps == 800 and learner.updates == 1
    # A step that resets an ended episode is no transition: one per ended
    # episode, but for episodes ended by the last step.
    resets = sum(1 for step, _ in learner.episodes if step < learner.steps)
    assert len(replay) == 800 - resets
    # CartPole pays 1 per move: the episodes' returns add up to the moves stored.
    assert sum(r for _, r in learner.episodes) + learner.episode_returns.sum() == len(replay)
    for result, epoch in zip(results, ((0, 400), (400, 800))):
        ended = [r for step, r in learner.episodes if epoch[0] < step <= epoch[1]]
        assert result.mean_return == pytest.approx(np.mean(ended))
        assert result.diverged is None
    assert results[0].metrics == {} and set(results[1].metrics) == {"loss", "q_value"}
    # Exploration decays linearly over 600 steps (explore 0.75), then stays.
    assert results[0].epsilon == pytest.approx(1 - 0.95 * 400 / 600)
    assert results[1].epsilon == 0.05


def test_evaluation_plays_fixed_episodes_to_their_end():
    config = _config(eval_episodes=5)
    agent = DoubleDQN(_q(), _q())
    evaluation = Evaluation(config, greedy_policy(agent.q, False))
    first = evaluation.greedy()
    assert first == evaluation.greedy()  # the same start states, a deterministic policy
    assert 1 <= first <= 500
    random = evaluation.returns(lambda observations, rng: rng.integers(0, 2, len(observations)))
    assert 8 <= random <= 100  # a uniform random policy balances the pole ~22 steps


@pytest.mark.parametrize("norm", ["weight", "batch"])
def test_a_run_logs_its_returns_and_the_q_network(norm, store, runs_of, metric_steps, monkeypatch):
    monkeypatch.setattr(TASKS["rl"], "quick_settings", TINY)
    assert main(["run", "--task", "rl", "--norm", norm, "--quick", *TINY_OPTIONS]) == 0
    [run] = runs_of("rl")
    assert run.info.status == "FINISHED"
    params, metrics = run.data.params, run.data.metrics
    assert (params["train_size"], params["envs"], params["steps_per_execution"]) == (
        "1600",
        "8",
        "1",
    )
    assert metric_steps(run, "eval_return") == [1, 2]
    assert metrics["updates"] == 1 + (1600 - 400) / 8  # the first once 400 steps are in
    assert metrics["return_auc"] == pytest.approx(np.mean(_history(run, "eval_return")))
    assert metrics["final_return"] == pytest.approx(np.mean(_history(run, "eval_return")))
    assert 1 <= metrics["random_return"] <= 500
    episodes = _history(run, "episode_return")
    assert len(episodes) == metrics["episodes"] > 10
    assert run.data.params["dataset"] == "cartpole"
    assert "gymnasium's CartPole-v1" in run.data.tags["mlflow.note.content"]
    assert len(run.outputs.model_outputs) == 1


def _history(run, metric):
    import mlflow

    values = mlflow.MlflowClient().get_metric_history(run.info.run_id, metric)
    return [m.value for m in sorted(values, key=lambda m: m.step)]


def test_a_run_whose_updates_blow_up_ends_failed_and_tagged(store, runs_of, monkeypatch, capsys):
    monkeypatch.setattr(TASKS["rl"], "quick_settings", TINY)
    assert (
        main(["run", "--task", "rl", "--norm", "none", "--quick", "--lr", "1e30", *TINY_OPTIONS])
        == 1
    )
    [run] = runs_of("rl")
    assert run.info.status == "FAILED"
    assert run.data.tags["diverged"] == "true" and run.data.tags["diverged_epoch"] == "1"
    assert "training diverged at epoch 1" in capsys.readouterr().err


@pytest.mark.parametrize(
    "options, message",
    [
        (
            ["--train-size", "1000"],
            "--train-size (environment steps) must split into --epochs (2) equal parts of "
            "whole steps of --envs (8) environments, got train_size=1000",
        ),
        (["--warmup", "1600"], "--warmup must be fewer than the 1600 environment steps"),
        (["--explore", "1.5"], "argument --explore: must be a number in [0, 1), got '1.5'"),
    ],
)
def test_a_budget_that_does_not_split_is_refused(options, message, monkeypatch, capsys):
    monkeypatch.setattr(TASKS["rl"], "quick_settings", TINY)
    with pytest.raises(SystemExit) as exit:
        main(["run", "--task", "rl", "--norm", "none", "--quick", *options])
    assert exit.value.code == 2
    assert message in capsys.readouterr().err


def test_steps_to_a_target_count_environment_steps():
    assert TASKS["rl"].epoch_steps({"train_size": 50_000, "epochs": 10, "batch_size": 64}) == 5000
    assert TASKS["cnn"].epoch_steps({"train_size": 1000, "epochs": 3, "batch_size": 64}) == 16
