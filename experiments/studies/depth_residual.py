"""depth-residual: the residual control of `depth`, redesigned. There, each
shortcut added a full-size branch (He init) to its input, so the activations
doubled at every one of the 47 branches and the network without normalization
diverged at every rate; here each branch's weights are divided by the number of
branches (`--init depth-scaled`, Hanin & Rolnick 2018; Fixup, Zhang et al.
2019), which keeps the activations bounded without normalization. With it:
do shortcuts alone train the 48-layer network that the plain one cannot, and
does batch norm still add anything on top of them?"""

from .base import Claim, Scale, Study, Variant
from .depth import RESNET, SETTINGS, YANG, network

HANIN = "Hanin & Rolnick 2018, how to start training"
FIXUP = "Zhang et al. 2019, Fixup initialization"
DE_SMITH = "De & Smith 2020, batch norm biases residual blocks towards the identity"
NAMES = {"none": "no norm", "batch": "batch norm"}

PLAIN = network(48)
# The shortcuts' branches scaled to the depth, without normalization; with batch
# norm, at He init (its output does not depend on the weights' scale at
# initialization, only its effective learning rate does).
RESIDUAL = network(48, residual=True, variants=("none",), init="depth-scaled")
RESIDUAL_BN = network(48, residual=True, variants=("batch",), init="scaled")
LEVELS = (PLAIN, RESIDUAL, RESIDUAL_BN)
# SGD with momentum 0.9, as in `depth`, at each of these rates per cell: a
# network whose branches start small may want a larger one.
RATES = (0.01, 0.03, 0.1)

STUDY = Study(
    name="depth-residual",
    title="deep networks: shortcuts with depth-scaled branches against batch norm",
    task="cnn",
    factor="network",
    variants=tuple(Variant(norm, {"norm": norm}) for norm in NAMES),
    scales={
        "smoke": Scale(SETTINGS["smoke"], (PLAIN, RESIDUAL), seeds=1, lrs=RATES[:1]),
        "small": Scale(SETTINGS["small"], LEVELS, seeds=5, lrs=RATES),
        "full": Scale(SETTINGS["full"], LEVELS, seeds=5, lrs=RATES),
    },
    claims=(
        Claim(
            "shortcuts with depth-scaled branches train the 48-layer network without "
            "normalization to a lower training loss than the plain one",
            ("none", RESIDUAL.label),
            ("none", PLAIN.label),
            "train_eval_loss",
            False,
            "the degradation problem: deeper plain networks train worse, residual ones "
            "do not; scaled branches start training at any depth",
            f"{RESNET}; {HANIN}",
        ),
        Claim(
            "batch norm trains the 48-layer residual network to a lower training loss than "
            "depth-scaled branches without normalization",
            ("batch", RESIDUAL_BN.label),
            ("none", RESIDUAL.label),
            "train_eval_loss",
            False,
            "the guidance: batch norm is what lets ResNets train; Fixup: scaled branches "
            "train as well without it (no figure for fully connected networks)",
            FIXUP,
        ),
        Claim(
            "shortcuts keep batch norm's gradients from exploding at initialization: the "
            "48-layer residual network's first-to-last layer ratio is below the plain one's",
            ("batch", RESIDUAL_BN.label),
            ("batch", PLAIN.label),
            "init_grad_log_ratio",
            False,
            "the explosion is the plain networks'; batch norm in a residual branch "
            "shrinks it towards the identity (no per-layer figure quoted)",
            f"{YANG}; {DE_SMITH}",
        ),
        Claim(
            "batch norm trains the 48-layer network with shortcuts to a lower training "
            "loss than without them",
            ("batch", RESIDUAL_BN.label),
            ("batch", PLAIN.label),
            "train_eval_loss",
            False,
            "plain batch-normalized networks are untrainable at depth, residual ones train",
            f"{YANG}; {DE_SMITH}",
        ),
    ),
    metrics=("train_eval_loss", "init_grad_log_ratio", "test_accuracy"),
    question="Which norm for a very deep network?",
    plot="gradients",
    tune_metric="val_accuracy",
    notes="The `depth` study's 48-layer fully connected ReLU networks (100 units a layer, "
    "4,096 Fashion-MNIST images, SGD with momentum 0.9 for 640 steps with a cosine decay), "
    "each cell read at its rate of 0.01, 0.03 and 0.1 with the best mean validation "
    "accuracy. The plain network and the residual one with batch norm start at He init; "
    "the residual one without normalization at He init with each of its 47 branches' "
    "weights divided by 47, so that the branches' scales sum to one. The gradient ratio "
    "and the training loss are as in `depth`.",
)
