"""translate: instance vs batch norm for edges-to-image at batch sizes 1 and 16,
and batch norm scored with its moving statistics and with the test batch's own
(the pix2pix question; Ulyanov et al. 2016; Isola et al. 2017)."""

from .base import Claim, Level, Scale, Study, Variant

IN = "Ulyanov et al. 2016 (qualitative)"
PIX2PIX = "Isola et al. 2017"
NO_FIGURE = "no published number (ours would be a first)"
SAME = 0.005  # test L1: the smallest difference of interest
LEVELS = (Level("batch 1", {"batch_size": 1}), Level("batch 16", {"batch_size": 16}))
# Adam's rate for both networks, chosen per cell on validation L1: pix2pix's
# 2e-4 lies inside the grid.
RATES = (1e-4, 3e-4, 1e-3)
MOVING, TEST_BATCH = "test_l1", "test_l1_test_batch"

STUDY = Study(
    name="translate",
    title="instance vs batch norm for image translation",
    task="translate",
    factor="batch size",
    variants=(Variant("instance", {"norm": "instance"}), Variant("batch", {"norm": "batch"})),
    scales={
        "smoke": Scale(
            {"epochs": 1, "train_size": 32, "val_size": 32, "test_size": 64},
            LEVELS[:1],
            seeds=1,
            lrs=RATES[:2],
        ),
        "small": Scale(
            {"epochs": 2, "train_size": 512, "val_size": 256, "test_size": 1024},
            LEVELS,
            seeds=5,
            lrs=RATES,
        ),
        "full": Scale({"epochs": 10}, LEVELS, seeds=5, lrs=RATES),
    },
    claims=(
        Claim(
            "instance norm beats batch norm (moving statistics) at batch 1",
            ("instance", "batch 1"),
            ("batch", "batch 1"),
            MOVING,
            False,
            NO_FIGURE,
            IN,
            equivalence_margin=SAME,
        ),
        Claim(
            "instance norm beats batch norm (moving statistics) at batch 16",
            ("instance", "batch 16"),
            ("batch", "batch 16"),
            MOVING,
            False,
            NO_FIGURE,
            IN,
        ),
        Claim(
            "batch norm scored with test-batch statistics beats its moving statistics at batch 1",
            ("batch", "batch 1"),
            ("batch", "batch 1"),
            TEST_BATCH,
            False,
            "pix2pix evaluates with test-batch statistics at batch 1",
            PIX2PIX,
            paired=True,
            b_metric=MOVING,
            equivalence_margin=SAME,
        ),
        Claim(
            "batch norm scored with its moving statistics beats test-batch statistics at batch 16",
            ("batch", "batch 16"),
            ("batch", "batch 16"),
            MOVING,
            False,
            "the usual inference; pix2pix's test-batch statistics are argued for batch 1",
            PIX2PIX,
            paired=True,
            b_metric=TEST_BATCH,
            equivalence_margin=SAME,
        ),
    ),
    metrics=(MOVING, TEST_BATCH, "test_ssim"),
    question="Which norm for image translation?",
    tune_metric="val_l1",
    tune_higher_is_better=False,
    notes="Each norm at each batch size is read at its own learning rate, the one of "
    "1e-4, 3e-4 and 1e-3 (Adam, both networks) with the lowest mean validation L1. "
    "Each batch-norm run is scored twice on the test set: in inference mode (its "
    "moving statistics, `test_l1`) and normalizing each test batch, of the run's batch "
    "size, by its own mean and variance as pix2pix does (`test_l1_test_batch`), the "
    "moving statistics left as training left them; the two scores of one run are "
    "compared seed by seed. Instance norm against batch norm with test-batch statistics "
    "at batch 1 is not a claim: there, both normalize each image by its own statistics "
    "in training and in the test, the same function. SSIM is shown, not tested: it "
    "scores the same samples as L1. A difference in test L1 under 0.005 (about 6% of its "
    "value at batch 1) counts as no difference (TOST).",
)
