"""The translate task: a small U-Net maps a Fashion-MNIST item's Sobel edges back to the item.

Trained with L1 plus a patch discriminator's adversarial loss (pix2pix), at
any batch size, 1 included: where per-image statistics (instance norm) are
said to beat batch statistics.
"""

from experiments import arguments
from experiments.norms import NORMS
from experiments.tasks.base import Task, load_logged_images

TRIPLETS = 8  # (edges | output | target) rows logged at each epoch


class TranslateTask(Task):
    name = "translate"
    description = ("edges-to-image translation on Fashion-MNIST: U-Net generator, L1 + patch "
                   "discriminator; L1 (lower is better) and SSIM (higher) on the test set")
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
    quick_settings = {"epochs": 3, "batch_size": 1, "train_size": 512, "val_size": 512,
                      "test_size": 1024}
    quick_norms = ("none", "batch", "instance")

    table_metrics = ("test_l1", "test_ssim")
    higher_is_better = False
    curve_metric = "val_l1"

    def add_arguments(self, parser):
        parser.add_argument("--l1-weight", type=arguments.positive_float, default=100.0,
                            help="weight of the L1 loss against the adversarial one "
                                 "(default: 100, as pix2pix)")

    def prepare(self, config):
        from experiments.data import prepared_builder

        prepared_builder(config["dataset"], config["data_dir"])

    def run(self, config):
        # TensorFlow is imported here, not at module level: --help stays fast.
        import keras
        import mlflow

        from experiments import keras_logging, plots
        from experiments.edges import edges_and_target
        from experiments.models.gan import DivergenceMonitor
        from experiments.models.translate import (
            Translator,
            build_patch_discriminator,
            build_translation_generator,
        )

        keras.utils.set_random_seed(config["seed"])
        data = load_logged_images(config)
        # Edge maps are computed in the input pipeline, batch by batch.
        train, val, test = (split.map(edges_and_target) for split in
                            (data.train, data.val, data.test))
        shown_edges, shown_targets = next(iter(test.unbatch().batch(TRIPLETS)))

        model = Translator(build_translation_generator(config["norm"], seed=config["seed"]),
                           build_patch_discriminator(config["norm"], seed=config["seed"]),
                           l1_weight=config["l1_weight"])
        optimizers = {name: keras.optimizers.Adam(config["lr"], beta_1=0.5, name=f"{name}_adam")
                      for name in ("generator", "discriminator")}
        model.compile(g_optimizer=optimizers["generator"],
                    d_optimizer=optimizers["discriminator"])

        def log_triplets(epoch):
            rows = model.triplets(shown_edges, shown_targets)
            mlflow.log_image(plots.image_grid(rows, columns=1), key="triplets", step=epoch)

        monitor = DivergenceMonitor(keys=("l1", "g_adv", "d_loss"))
        history = model.fit(
            train,
            validation_data=val,
            epochs=config["epochs"],
            shuffle=False,  # the pipeline shuffles, with the run's seed
            callbacks=[
                monitor,
                keras_logging.EpochLogger(data.sizes["train"], optimizers=optimizers),
                keras_logging.EveryEpochs(log_triplets),
            ],
        ).history
        keras_logging.end_if_diverged(monitor)

        test_scores = model.evaluate(test, return_dict=True, verbose=0)
        metrics = {f"test_{name}": value for name, value in test_scores.items()}
        mlflow.log_metrics(metrics)
        figure = plots.learning_curves(history, f"translate, norm={config['norm']}")
        mlflow.log_figure(figure, "learning_curves.png")
        plots.close(figure)
        keras_logging.log_keras_model(model.generator, example=shown_edges[:4].numpy(),
                                      name="generator")
        return metrics
