"""translate: instance vs batch norm for edges-to-image at batch sizes 1 and 16,
batch norm evaluated with its moving statistics and with the test batch's own
(the pix2pix question; Ulyanov et al. 2016)."""

from experiments.studies.base import Claim, Level, Scale, Study, Variant

IN = "Ulyanov et al. 2016 (qualitative)"
NO_FIGURE = "no published number (ours would be a first)"
SAME_AT_1 = 0.005  # test L1: the smallest difference of interest between the norms at batch 1
LEVELS = (Level("batch 1", {"batch_size": 1}), Level("batch 16", {"batch_size": 16}))
MOVING, TEST_BATCH = "batch (moving statistics)", "batch (test-batch statistics)"

STUDY = Study(
    name="translate",
    title="instance vs batch norm for image translation",
    task="translate",
    factor="batch size",
    variants=(
        Variant("instance", {"norm": "instance"}),
        Variant(MOVING, {"norm": "batch", "eval_stats": "moving"}),
        Variant(TEST_BATCH, {"norm": "batch", "eval_stats": "batch"}),
    ),
    scales={
        "smoke": Scale(
            {"epochs": 1, "train_size": 32, "val_size": 32, "test_size": 64}, LEVELS[:1], seeds=1
        ),
        "small": Scale(
            {"epochs": 2, "train_size": 512, "val_size": 256, "test_size": 1024}, LEVELS, seeds=5
        ),
        "full": Scale({"epochs": 10}, LEVELS, seeds=5),
    },
    claims=(
        Claim(
            "instance norm beats batch norm (moving statistics) at batch 1",
            ("instance", "batch 1"),
            (MOVING, "batch 1"),
            "test_l1",
            False,
            NO_FIGURE,
            IN,
            equivalence_margin=SAME_AT_1,
        ),
        Claim(
            "instance norm beats batch norm (test-batch statistics) at batch 1",
            ("instance", "batch 1"),
            (TEST_BATCH, "batch 1"),
            "test_l1",
            False,
            NO_FIGURE,
            IN,
            equivalence_margin=SAME_AT_1,
        ),
        Claim(
            "instance norm beats batch norm (moving statistics) at batch 16",
            ("instance", "batch 16"),
            (MOVING, "batch 16"),
            "test_l1",
            False,
            NO_FIGURE,
            IN,
        ),
        Claim(
            "batch norm with test-batch statistics beats its moving statistics at batch 1",
            (TEST_BATCH, "batch 1"),
            (MOVING, "batch 1"),
            "test_l1",
            False,
            "pix2pix evaluates with test-batch statistics at batch 1",
            "Isola et al. 2017",
            paired=True,
            equivalence_margin=SAME_AT_1,
        ),
        Claim(
            "instance norm beats batch norm (moving statistics) at batch 1, SSIM",
            ("instance", "batch 1"),
            (MOVING, "batch 1"),
            "test_ssim",
            True,
            NO_FIGURE,
            IN,
        ),
    ),
    metrics=("test_l1", "test_ssim"),
    notes="Batch norm with test-batch statistics normalizes each test batch (of the run's "
    "batch size) by its own mean and variance, as pix2pix does; its moving statistics "
    "are left as training left them. The two batch-norm variants train alike (a seed "
    "fixes the initial weights and the data order) and differ in evaluation only, so "
    "their comparison pairs them by seed. At batch 1 a difference in test L1 under "
    "0.005 (about 6% of its value there) counts as no difference (TOST).",
)
