"""The translate task: a small U-Net maps a Fashion-MNIST item's Sobel edges back to the item.

Trained with L1 plus a patch discriminator's adversarial loss (pix2pix), at
any batch size, 1 included: where per-image statistics (instance norm) are
said to beat batch statistics.
"""

from .. import arguments
from ..models.norms import NORMS
from .base import Task, example_inputs, first_examples, load_logged_images
from .loop import compile_arguments

TRIPLETS = 8  # (edges | output | target) rows logged at each epoch
# The norms whose inference differs from training by using moving statistics:
# their runs are also scored with each test batch's own statistics.
BATCH_STATISTICS = ("batch", "weight_meanbn")
TEST_BATCH = "_test_batch"  # the suffix of those scores' metric names


class TranslateTask(Task):
    name = "translate"
    description = (
        "edges-to-image translation on Fashion-MNIST: U-Net generator, L1 + patch "
        "discriminator; L1 (lower is better) and SSIM (higher) on the test set, "
        "batch norm's also with each test batch's own statistics"
    )
    norms = NORMS
    datasets = ("fashion_mnist",)
    settings = {
        "epochs": 10,
        "batch_size": 16,
        "lr": 2e-4,
        "train_size": None,
        "val_size": 5000,
        "test_size": None,
    }
    # Batch size 1, where batch norm's training statistics (one image's) and its
    # moving ones at test time part ways, and instance norm's do not.
    quick_settings = {
        "epochs": 3,
        "batch_size": 1,
        "train_size": 512,
        "val_size": 512,
        "test_size": 1024,
    }
    quick_norms = ("none", "batch", "instance")
    quick_run_seconds = 37

    table_metrics = ("test_l1", "test_ssim")
    higher_is_better = False
    curve_metric = "val_l1"

    def add_arguments(self, parser):
        parser.add_argument(
            "--l1-weight",
            type=arguments.positive_float,
            default=100.0,
            help="weight of the L1 loss against the adversarial one (default: 100, as pix2pix)",
        )

    def configure(self, config):
        import keras

        if keras.config.backend() == "torch" and config["batch_size"] == 1:
            # torch's CPU convolution fails to backpropagate a one-filter
            # convolution (the output and logit layers) of a batch of one
            # channels-last image: "slow_conv2d: grad_weight must be contiguous".
            raise ValueError(
                "translate cannot train at batch size 1 on torch (a torch convolution bug); "
                "use KERAS_BACKEND=jax or tensorflow. Received: --batch-size 1"
            )
        return config

    def run(self, config):
        # TensorFlow is imported here, not at module level: --help stays fast.
        import keras
        import mlflow

        from ..data.edges import edges_and_target
        from ..models.translate import (
            Translator,
            build_patch_discriminator,
            build_translation_generator,
        )
        from ..report import plots
        from ..tracking import keras_logging

        keras.utils.set_random_seed(config["seed"])
        data = load_logged_images(config)
        # Edge maps are computed in the input pipeline, batch by batch.
        train, val, test = (
            split.map(edges_and_target) for split in (data.train, data.val, data.test)
        )

        model = Translator(
            build_translation_generator(config["norm"], seed=config["seed"]),
            build_patch_discriminator(config["norm"], seed=config["seed"]),
            l1_weight=config["l1_weight"],
        )
        optimizers = {
            name: keras.optimizers.Adam(config["lr"], beta_1=0.5, name=f"{name}_adam")
            for name in ("generator", "discriminator")
        }
        model.compile(
            g_optimizer=optimizers["generator"],
            d_optimizer=optimizers["discriminator"],
            **compile_arguments(config),
        )

        shown = []  # edges and targets of the triplets, the same every epoch

        def log_triplets(epoch):
            if not shown:  # at an epoch's end, once validation has read `val` to its end
                shown.extend(first_examples(val, TRIPLETS))
            rows = model.triplets(*shown)
            mlflow.log_image(plots.image_grid(rows, columns=1), key="triplets", step=epoch)

        history = self.fit(
            model,
            train,
            config,
            data.sizes["train"],
            validation=val,
            callbacks=[keras_logging.EveryEpochs(log_triplets)],
            optimizers=optimizers,
        )
        metrics = _test_scores(model, test, config["norm"])
        mlflow.log_metrics(metrics)
        return self.finish(
            config,
            history,
            model,
            example=example_inputs(val),
            metrics=metrics,
            logged_model=model.generator,
            model_name="generator",
        )


def _test_scores(model, test, norm):
    """`test_l1` and `test_ssim` in inference mode, and for a norm with batch
    statistics the same scores with each test batch's own statistics
    (`test_l1_test_batch`, as pix2pix evaluates): two evaluations of one
    trained model, so the two are compared run by run."""
    scores = {f"test_{k}": v for k, v in model.evaluate(test, return_dict=True, verbose=0).items()}
    if norm in BATCH_STATISTICS:
        model.eval_batch_stats = True
        model.make_test_function(force=True)  # the compiled one holds the other mode
        own = model.evaluate(test, return_dict=True, verbose=0)
        scores.update({f"test_{k}{TEST_BATCH}": v for k, v in own.items()})
    return scores
