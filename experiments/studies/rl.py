"""rl: weight norm helps reinforcement-learning agents (Salimans & Kingma 2016
ran DQN with it on Atari games; the guidance: it does not depend on the
minibatch, whose statistics drift as the agent's data does), and batch norm
suits them poorly (the replayed minibatch's statistics in training, the moving
ones when acting). A double DQN agent on CartPole-v1, the norm in its
Q-network, many seeds (Henderson et al. 2018)."""

from .base import Claim, Level, Scale, Study, Variant

WN = "Salimans & Kingma 2016, DQN on Atari (section 5.4)"
GUIDANCE = "the guidance; Bjorck et al. 2021 (normalization can destabilize RL)"
SOLVED = 195.0  # CartPole's classic bar (v0's "solved"), on one greedy evaluation
RETURN = 10.0  # the smallest difference of interest: 10 steps of balance
CARTPOLE = Level("CartPole-v1", {})
NAMES = {
    "none": "no norm",
    "weight": "weight norm",
    "layer": "layer norm",
    "batch": "batch norm",
}


def _claim(a, b, paper, source, metric="return_auc", **options):
    what = {
        "return_auc": "on the area under the evaluation-return curve",
        "final_return": "on the final return (the last 3 evaluations)",
        "eval_return": f"in reaching an evaluation return of {SOLVED:g} (environment steps)",
    }[metric]
    return Claim(
        f"{NAMES[a]} beats {NAMES[b]} {what} (DQN, CartPole)",
        (a, CARTPOLE.label),
        (b, CARTPOLE.label),
        metric,
        True,
        paper,
        source,
        **options,
    )


STUDY = Study(
    name="rl",
    title="reinforcement learning: a DQN agent's Q-network",
    task="rl",
    factor="environment",
    variants=tuple(Variant(norm, {"norm": norm}) for norm in NAMES),
    scales={
        "smoke": Scale(
            {"epochs": 2, "train_size": 800, "warmup": 200, "eval_episodes": 4},
            (CARTPOLE,),
            seeds=1,
            variants=("none", "weight"),
        ),
        # 50,000 environment steps, 10 evaluations of 16 episodes; 10 seeds.
        "small": Scale({}, (CARTPOLE,), seeds=10),
        "full": Scale({"epochs": 20, "train_size": 200_000}, (CARTPOLE,), seeds=20),
    },
    claims=(
        _claim(
            "weight",
            "none",
            "Atari: WN's DQN scores above the plain one's",
            WN,
            floor="random_return",
            equivalence_margin=RETURN,
        ),
        _claim(
            "weight",
            "none",
            "Atari: higher final scores",
            WN,
            metric="final_return",
            floor="random_return",
        ),
        _claim(
            "weight",
            "none",
            "Atari: faster learning",
            WN,
            metric="eval_return",
            outcome="censored",
            target=SOLVED,
        ),
        _claim(
            "weight",
            "batch",
            "no figure: batch norm's statistics follow the replayed minibatch",
            GUIDANCE,
            floor="random_return",
        ),
        _claim(
            "none",
            "batch",
            "no figure: batch norm hurts value-based agents",
            GUIDANCE,
            floor="random_return",
        ),
        _claim(
            "layer",
            "none",
            "no figure: layer norm is the per-example alternative",
            GUIDANCE,
            floor="random_return",
            equivalence_margin=RETURN,
        ),
    ),
    metrics=("return_auc", "final_return", "best_return"),
    question="Which norm for reinforcement learning?",
    references={"uniform random policy (floor)": "random_return"},
    notes="A double DQN agent (van Hasselt et al. 2016: the online network picks the next action,"
    " the target network values it) learns gymnasium's CartPole-v1 over 50,000 environment "
    "steps, 8 environments stepped together and one Adam update (rate 3e-4, Huber loss, "
    "discount 0.99) per step of them on 64 replayed transitions; the target network takes "
    "the Q-network's weights every 500 updates; exploration decays from 1 to 0.05 over the "
    "first 10,000 steps, the first 1,000 of them all random. The Q-network is the batch "
    "norm paper's fully connected network (2 hidden layers of 100 ReLU units, He init) with"
    " a linear head, the norm before each activation. Each of the 10 epochs ends with 16 "
    "greedy episodes (inference mode, fixed start states per seed); `return_auc` is their "
    "mean return over the 10 evaluations (the area under the learning curve), "
    "`final_return` over the last 3, and the steps to a return of 195 count as censored "
    "where never reached. The agent's settings were fixed in a pilot of the plain network "
    "alone (rates 1e-4 to 1e-3, plain and double DQN, 4 and 8 environments, target copies "
    "every 100 to 1,000 updates, 50,000 and 100,000 steps), which favours the baseline; "
    "there is no rate grid per norm: RL needs seeds more than rates (Henderson et al. "
    "2018), and 10 seeds of 4 norms fill the small budget. Before the first update the "
    "Q-network sees 256 replayed observations once in training mode (weight norm's data-"
    "dependent initialization). A difference under 10 steps of balance counts as none "
    "(TOST) for weight and layer norm against no norm.",
)
