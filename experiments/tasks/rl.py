"""The rl task: a double DQN agent (`experiments.models.dqn`) learns gymnasium's
CartPole-v1, the normalization in its Q-network, the batch norm paper's fully
connected network (2 hidden layers of 100 ReLU units) with a linear head.

The agent steps `--envs` copies of the environment together (gymnasium's
vectorized CartPole) and takes one update per step of them, on a replayed
minibatch of `--batch-size` transitions: batch norm's statistics are the
minibatch's. `--train-size` counts environment steps in all, `--epochs`
evaluations along the way: each epoch ends with `--eval-episodes` greedy
episodes (no exploration, inference mode) from fixed start states, the same
for every norm at a seed. Before the first update, the Q-network sees 256
replayed observations once in training mode: weight norm's data-dependent
initialization, and batch norm's moving statistics' first update.
"""

from .. import arguments
from ..models.agent import ACTIONS, FINAL_EPSILON, OBSERVATION_SHAPE
from ..models.norms import MLP_NORMS
from .base import Task

HIDDEN_LAYERS = 2
# `final_return` averages the last evaluations: one evaluation of a DQN, whose
# policy swings from update to update, is a noisy end point.
LAST_EVALUATIONS = 3
# Episode returns are logged in batches (MLflow takes at most 1,000 metrics per call).
LOG_BATCH = 1000


class RlTask(Task):
    name = "rl"
    description = (
        "reinforcement learning: a double DQN agent on gymnasium's CartPole-v1, "
        "the norm in its Q-network; greedy evaluation return (higher is better)"
    )
    norms = MLP_NORMS
    datasets = ("cartpole",)
    settings = {
        "epochs": 10,  # evaluations
        "batch_size": 64,  # replayed transitions per update
        "lr": 3e-4,
        "train_size": 50_000,  # environment steps
        "val_size": None,  # unused
        "test_size": None,  # unused
    }
    quick_settings = {"epochs": 2, "train_size": 4000}
    # Not in the quick comparison: an agent learns nothing a few seconds can show.
    quick_norms = ()
    quick_run_seconds = 5
    compiled_steps = False

    table_metrics = ("return_auc", "final_return", "best_return")
    higher_is_better = True
    curve_metric = "eval_return"
    references = {"uniform random policy (floor)": {"return_auc": "random_return"}}

    def add_arguments(self, parser):
        parser.add_argument(
            "--envs",
            type=arguments.positive_int,
            default=8,
            help="environments stepped together; one update per step of them (default: 8)",
        )
        parser.add_argument(
            "--eval-episodes",
            type=arguments.positive_int,
            default=16,
            help="greedy episodes of each evaluation, at each epoch's end (default: 16)",
        )
        parser.add_argument(
            "--target-every",
            type=arguments.positive_int,
            default=500,
            help="updates between copies of the Q-network into the target network (default: 500)",
        )
        parser.add_argument(
            "--warmup",
            type=arguments.non_negative_int,
            default=1000,
            help="environment steps of uniformly random actions before the first update "
            "(default: 1000)",
        )
        parser.add_argument(
            "--buffer",
            type=arguments.positive_int,
            default=50_000,
            help="transitions the replay memory keeps (default: 50000)",
        )
        parser.add_argument(
            "--explore",
            type=arguments.below_one,
            default=0.2,
            help="the share of the environment steps over which exploration decays "
            f"linearly from 1 to {FINAL_EPSILON} (default: 0.2)",
        )
        parser.add_argument(
            "--gamma",
            type=arguments.below_one,
            default=0.99,
            help="the discount factor (default: 0.99)",
        )

    def configure(self, config):
        steps, epochs, envs = config["train_size"], config["epochs"], config["envs"]
        if steps is None or steps % (epochs * envs):
            raise ValueError(
                f"--train-size (environment steps) must split into --epochs ({epochs}) "
                f"equal parts of whole steps of --envs ({envs}) environments, "
                f"got train_size={steps}"
            )
        if config["warmup"] >= steps:
            raise ValueError(
                f"--warmup must be fewer than the {steps} environment steps (--train-size), "
                f"got warmup={config['warmup']}"
            )
        return config

    def prepare(self, config):
        from ..errors import DataError

        try:
            import gymnasium  # noqa: F401
        except ImportError as error:
            raise DataError(
                "the rl task needs gymnasium: pip install 'keras-norms[experiments]' "
                f"(or pip install gymnasium); {error}"
            ) from error

    def epoch_steps(self, config):
        return config["train_size"] // config["epochs"]

    def describe(self, config):
        return (
            f"**rl**: {self.description}.\n\nNormalization `{config['norm']}`: "
            f"{config['train_size']} environment steps over {config['envs']} environments, "
            f"an update per step of them on {config['batch_size']} replayed transitions, "
            f"Adam at learning rate {config['lr']:g}; {config['epochs']} evaluations of "
            f"{config['eval_episodes']} greedy episodes; seed {config['seed']}."
        )

    def run(self, config):
        import keras
        import mlflow
        import numpy as np

        from ..data.replay import ReplayBuffer
        from ..models.agent import Evaluation, Learner
        from ..models.dqn import DoubleDQN, greedy_policy
        from ..models.mlp import build_mlp
        from ..tracking import keras_logging

        keras.utils.set_random_seed(config["seed"])

        def q_network():
            return build_mlp(
                OBSERVATION_SHAPE,
                ACTIONS,
                config["norm"],
                depth=HIDDEN_LAYERS,
                seed=config["seed"],
                activation="relu",
                init="scaled",
                output_activation="linear",
                input_name="observation",
            )

        agent = DoubleDQN(q_network(), q_network(), gamma=config["gamma"])
        agent.compile(
            optimizer=keras.optimizers.Adam(config["lr"]), jit_compile=config["jit_compile"]
        )
        act = greedy_policy(agent.q, config["jit_compile"])
        evaluation = Evaluation(config, act)
        random_return = evaluation.returns(
            lambda observations, rng: rng.integers(0, ACTIONS, len(observations))
        )
        mlflow.log_metric("random_return", random_return)

        learner = Learner(config, agent, act, ReplayBuffer(config["buffer"], OBSERVATION_SHAPE))
        history = {"eval_return": [], "train_return": [], "loss": [], "q_value": []}
        for epoch in range(1, config["epochs"] + 1):
            trained = learner.epoch(epoch)
            if trained.diverged is not None:
                keras_logging.end_diverged_run(epoch, *trained.diverged)
            scores = {
                "eval_return": evaluation.greedy(),
                "train_return": trained.mean_return,
                "epsilon": trained.epsilon,
                "updates": learner.updates,
                "epoch_time_s": trained.seconds,
                "examples_per_s": learner.epoch_steps / trained.seconds,
                **trained.metrics,
            }
            mlflow.log_metrics(scores, step=epoch)
            for name in history:
                history[name].append(scores.get(name, np.nan))
        _log_episode_returns(learner.episodes)

        evaluations = history["eval_return"]
        metrics = {
            "return_auc": float(np.mean(evaluations)),
            "final_return": float(np.mean(evaluations[-LAST_EVALUATIONS:])),
            "best_return": float(np.max(evaluations)),
            "episodes": len(learner.episodes),
        }
        mlflow.log_metrics(metrics)
        example = evaluation.start_observations[:4]
        return self.finish(config, history, agent.q, example=example, metrics=metrics)


def _log_episode_returns(episodes):
    """Every training episode's return as the metric `episode_return`, at the
    episode's number (1, 2, ...): two episodes may end at one environment step
    with one return, and MLflow keeps such identical points once."""
    import time

    import mlflow
    from mlflow.entities import Metric

    client, run_id = mlflow.MlflowClient(), mlflow.active_run().info.run_id
    now = int(time.time() * 1000)
    metrics = [
        Metric("episode_return", value, now, number)
        for number, (_, value) in enumerate(episodes, start=1)
    ]
    for start in range(0, len(metrics), LOG_BATCH):
        client.log_batch(run_id, metrics=metrics[start : start + LOG_BATCH])
