"""overfit: batch norm regularizes, so that dropout can be removed (Ioffe &
Szegedy 2015, section 4.2.1), and weight norm generalizes better (as the
guidance has it): a small training set trained long, with and without dropout,
scored by test accuracy and by the generalization gap (the training set's
accuracy in inference mode minus the test set's)."""

from .base import Claim, Level, Scale, Study, Variant

BN = "Ioffe & Szegedy 2015, section 4.2.1 (removing dropout)"
WN = "Salimans & Kingma 2016, CIFAR-10 table"
DROPOUT = "Srivastava et al. 2014"
CHANCE = 0.1  # ten classes: the floor of test accuracy
SAME = 0.01  # test accuracy: the smallest difference of interest, one point
PLAIN, WITH_DROPOUT = "no dropout", "dropout 0.5"
LEVELS = (Level(PLAIN, {"dropout": 0.0}), Level(WITH_DROPOUT, {"dropout": 0.5}))
NORMS = ("none", "batch", "weight")
# Adam at each of these rates, per cell.
RATES = (3e-4, 1e-3, 3e-3)

STUDY = Study(
    name="overfit",
    title="overfitting: batch norm and weight norm against dropout",
    task="cnn",
    factor="dropout",
    variants=tuple(Variant(norm, {"norm": norm}) for norm in NORMS),
    scales={
        "smoke": Scale(
            {"depth": 1, "epochs": 2, "train_size": 128, "val_size": 128, "test_size": 128},
            LEVELS[:1],
            seeds=1,
            variants=("none", "batch"),
        ),
        # 1,024 training images, 40 epochs of 16 steps: every network fits
        # its training set long before the end. 60 epochs and 2,048
        # validation images took about 41 minutes for the 90 runs (a
        # validation every epoch is a third of a run), so the scale was
        # redeclared at this size before any of its verdicts was read.
        "small": Scale(
            {
                "depth": 2,
                "epochs": 40,
                "batch_size": 64,
                "train_size": 1024,
                "val_size": 512,
                "test_size": 4096,
                "lr_schedule": "cosine",
            },
            LEVELS,
            seeds=5,
            lrs=RATES,
        ),
        "full": Scale(
            {"epochs": 100, "batch_size": 64, "train_size": 5000, "lr_schedule": "cosine"},
            LEVELS,
            seeds=5,
            lrs=RATES,
        ),
    },
    claims=(
        Claim(
            "batch norm without dropout generalizes at least as well as the plain network "
            "with dropout",
            ("batch", PLAIN),
            ("none", WITH_DROPOUT),
            "test_accuracy",
            True,
            "BN-Inception trains without dropout with no loss of accuracy",
            BN,
            floor=CHANCE,
            equivalence_margin=SAME,
        ),
        Claim(
            "batch norm has a smaller generalization gap than the plain network (no dropout)",
            ("batch", PLAIN),
            ("none", PLAIN),
            "generalization_gap",
            False,
            "batch norm regularizes; no gap is reported",
            BN,
        ),
        Claim(
            "weight norm beats the plain network on test accuracy (no dropout)",
            ("weight", PLAIN),
            ("none", PLAIN),
            "test_accuracy",
            True,
            "test error 8.46% (weight norm) vs 8.43% (plain): no gain in the paper",
            WN,
            floor=CHANCE,
            equivalence_margin=SAME,
        ),
        Claim(
            "dropout narrows the plain network's generalization gap",
            ("none", WITH_DROPOUT),
            ("none", PLAIN),
            "generalization_gap",
            False,
            "dropout's purpose; the control that the setting overfits",
            DROPOUT,
        ),
    ),
    metrics=("test_accuracy", "generalization_gap", "test_loss", "train_eval_accuracy"),
    question="Which norm for my CNN?",
    tune_metric="val_accuracy",
    notes="A residual CNN of two blocks on 1,024 Fashion-MNIST training images for 640 "
    "steps (40 epochs of batch 64), Adam with a cosine decay, each norm at each dropout "
    "level read at its rate of 3e-4, 1e-3 and 3e-3 with the best mean validation "
    "accuracy (the validation set, 512 images, is apart from the training set). The "
    "dropout (rate 0.5) is where Inception had it, before the classifier. The "
    "generalization gap is the training set's accuracy scored as the test set is (in "
    "inference mode: no dropout, batch norm's moving statistics) minus the test "
    "accuracy. A difference in test accuracy under one point counts as no difference "
    "(TOST): for the claim that batch norm without dropout does at least as well as the "
    "plain network with it, an equivalent verdict bears it out as a supported one does.",
)
