"""The GAN task: a DCGAN on Fashion-MNIST, scored with FID and KID.

A run's norm is one name for both networks (`batch`), or `G/D` for the
generator's and the discriminator's apart (`batch/weight`); `--g-norm` and
`--d-norm` override one side. The norm param is the resolved label, so the
report and the MLflow UI group runs by the pair.
"""

import argparse

from .. import arguments
from ..models.norms import DISCRIMINATOR_NORMS, NORMS
from .base import Task, load_logged_images
from .loop import compile_arguments

SAMPLE_GRID = 8  # an 8x8 grid of samples from fixed noise at each epoch
# Each score's final `<score>_last` (`fid_last`, `kid_last`, `class_kl_last`, ...)
# averages its last scores: one score of a GAN, whose samples move from update
# to update, is a noisy end point.
LAST_SCORES = 3


def norm_label(g_norm, d_norm):
    """`batch` when both networks have it, else `G/D`."""
    return g_norm if g_norm == d_norm else f"{g_norm}/{d_norm}"


class GanTask(Task):
    name = "gan"
    description = (
        "DCGAN on Fashion-MNIST, norms as generator/discriminator; FID and KID in a "
        "Fashion-MNIST classifier's feature space (lower is better)"
    )
    norms = NORMS
    datasets = ("fashion_mnist",)
    norm_params = ("g_norm", "d_norm")
    settings = {
        "epochs": 20,
        "batch_size": 64,
        "lr": 2e-4,
        "train_size": None,
        "val_size": 5000,  # the held-out real sample that scores the floor
        "test_size": None,  # unused
        "score_every": 5,
        "fid_samples": 2000,
    }
    quick_settings = {
        "epochs": 4,
        "train_size": 4096,
        "val_size": 1000,
        "score_every": 2,
        "fid_samples": 1000,
    }
    quick_norms = ("none", "batch", "batch/weight")
    quick_run_seconds = 48
    # Under XLA the first step's losses differ from the uncompiled loop's by
    # 0.2% with batch norm in the generator and weight norm in the
    # discriminator: more than rounding.
    xla = False

    table_metrics = ("fid", "kid")
    higher_is_better = False
    curve_metric = "fid"
    references = {"real data, held out (floor)": {"fid": "real_fid", "kid": "real_kid"}}

    def parse_norm(self, text):
        parts = text.split("/")
        if len(parts) > 2:
            raise argparse.ArgumentTypeError(
                f"must be a norm or GENERATOR/DISCRIMINATOR norms, got {text!r}"
            )
        arguments.choice(self.norms)(parts[0])
        # Spectral norm is for the discriminator only: `batch/spectral`.
        arguments.choice(DISCRIMINATOR_NORMS)(parts[-1])
        return text

    def add_arguments(self, parser):
        parser.add_argument(
            "--g-norm",
            type=arguments.choice(self.norms),
            help="the generator's norm (default: from --norm, which takes one "
            "norm for both networks or GENERATOR/DISCRIMINATOR ones, "
            "e.g. batch/weight)",
        )
        parser.add_argument(
            "--d-norm",
            type=arguments.choice(DISCRIMINATOR_NORMS),
            help="the discriminator's norm, or spectral (Keras's "
            "SpectralNormalization) (default: from --norm)",
        )
        parser.add_argument(
            "--n-dis",
            type=arguments.positive_int,
            default=1,
            help="discriminator updates per generator update (default: 1; the spectral "
            "norm paper's settings A and D-F use 5)",
        )
        parser.add_argument(
            "--beta1",
            type=arguments.below_one,
            default=0.5,
            help="Adam's beta_1 for both networks (default: 0.5, as DCGAN)",
        )
        parser.add_argument(
            "--beta2",
            type=arguments.below_one,
            default=0.999,
            help="Adam's beta_2 for both networks (default: 0.999)",
        )
        parser.add_argument(
            "--score-every",
            type=arguments.positive_int,
            help="score FID and KID every N epochs, and after the last "
            f"(default: {self.settings['score_every']}, "
            f"{self.quick_settings['score_every']} with --quick)",
        )
        parser.add_argument(
            "--fid-samples",
            type=arguments.int_at_least(2),
            help="images per FID/KID score, generated and real alike; compare "
            "runs only at equal counts (default: "
            f"{self.settings['fid_samples']}, "
            f"{self.quick_settings['fid_samples']} with --quick)",
        )

    def configure(self, config):
        g_norm, _, d_norm = config["norm"].partition("/")
        g_norm = config["g_norm"] or g_norm
        d_norm = config["d_norm"] or d_norm or g_norm
        # The real samples scored: the reference from the training images, the
        # floor from the held-out ones.
        for size, kind in (("train_size", "training"), ("val_size", "held-out")):
            if config[size] is not None and config[size] < config["fid_samples"]:
                raise ValueError(
                    f"--fid-samples {config['fid_samples']} is more than the "
                    f"{config[size]} {kind} images ({size}) of this configuration"
                )
        return {**config, "g_norm": g_norm, "d_norm": d_norm, "norm": norm_label(g_norm, d_norm)}

    def prepare(self, config):
        super().prepare(config)
        # Trained once and cached: every run is scored in the same feature space.
        _feature_extractor(config)

    def title(self, config):
        return f"gan, norm={config['norm']} (generator/discriminator)"

    def run(self, config):
        # TensorFlow is imported here, not at module level: --help stays fast.
        import keras
        import mlflow
        import numpy as np

        from ..models.gan import GAN, build_discriminator, build_generator, fixed_noise
        from ..report import plots
        from ..tracking import keras_logging
        from .gan_metrics import Scorer

        extractor = _feature_extractor(config)  # before seeding: training it seeds Keras
        keras.utils.set_random_seed(config["seed"])
        data = load_logged_images(config, splits=("train", "val"))

        def images(dataset):
            return np.concatenate([batch for batch, _ in dataset.as_numpy_iterator()])

        scorer = Scorer(
            extractor, images(data.train), sample_count=config["fid_samples"], seed=config["seed"]
        )
        floor = scorer(images(data.val))
        mlflow.log_metrics({"real_fid": floor["fid"], "real_kid": floor["kid"]})

        gan = GAN(
            build_generator(config["g_norm"], seed=config["seed"]),
            build_discriminator(config["d_norm"], seed=config["seed"]),
            seed=config["seed"],
            n_dis=config["n_dis"],
        )
        optimizers = {
            name: keras.optimizers.Adam(
                config["lr"], beta_1=config["beta1"], beta_2=config["beta2"], name=f"{name}_adam"
            )
            for name in ("generator", "discriminator")
        }
        gan.compile(
            g_optimizer=optimizers["generator"],
            d_optimizer=optimizers["discriminator"],
            **compile_arguments(config),
        )
        grid_noise = fixed_noise(SAMPLE_GRID**2, gan.latent_dim, seed=0)
        # The same noise for every run: scores differ only by the generator.
        score_noise = fixed_noise(config["fid_samples"], gan.latent_dim, seed=1)
        scores, every_score = {}, []

        def log_samples(epoch):
            grid = plots.image_grid(gan.generate(grid_noise), columns=SAMPLE_GRID)
            mlflow.log_image(grid, key="samples", step=epoch)

        def log_scores(epoch):
            scores.update(scorer(gan.generate(score_noise)))
            mlflow.log_metrics(scores, step=epoch)
            every_score.append(dict(scores))

        history = self.fit(
            gan,
            data.train.map(lambda image, label: image * 2.0 - 1.0),  # the generator's tanh range
            config,
            data.sizes["train"],
            callbacks=[
                keras_logging.EveryEpochs(log_samples),
                keras_logging.EveryEpochs(
                    log_scores, every=config["score_every"], last=config["epochs"]
                ),
            ],
            optimizers=optimizers,
        )
        last = every_score[-LAST_SCORES:]
        averages = {f"{name}_last": float(np.mean([s[name] for s in last])) for name in scores}
        mlflow.log_metrics(averages)
        return self.finish(
            config,
            history,
            gan,
            example=grid_noise[:4],
            metrics={**scores, **averages},
            logged_model=gan.generator,
            model_name="generator",
        )


def _feature_extractor(config):
    """The cached Fashion-MNIST feature classifier, trained on first use."""
    from .. import paths
    from . import gan_metrics

    return gan_metrics.load_feature_extractor(paths.cache_dir(), data_dir=config["data_dir"])
