"""The style task: feed-forward stylization (`experiments.models.style`) of
Fashion-MNIST items with a generated stripe texture, the stylization network
the translate task's U-Net with the chosen normalization.

Scored on the test images (inference mode): the style loss (the texture's
statistics reached), the content loss (the item kept), and both again on the
same images at a lowered contrast (`--contrast`) and brightened
(`--brightness`). Instance norm is said to suit stylization because it
removes each image's contrast (Ulyanov et al. 2016; Huang & Belongie 2017):
`contrast_shift` and `brightness_shift`, the mean absolute change of the
stylized image when only the content's contrast or brightness changes,
measure how much of the change reaches the output; `degradation_low_contrast`
and `degradation_bright`, how much the stylization loss rises.
"""

from .. import arguments
from ..models.norms import NORMS
from .base import Task, first_examples, load_logged_images
from .loop import compile_arguments
from .schedule import add_schedule_argument, learning_rate

SAMPLES = 8  # (content | stylized) rows logged at each epoch
# Balances the two losses: at 10, copying the content (style loss 0.027 in the
# bank's units) costs about what painting the texture alone does (content
# loss 0.19), so neither is the optimum and the network has to blend them.
STYLE_WEIGHT = 10.0
# Lifts Fashion-MNIST's black background to a third of full scale; about one
# pixel in five (the items' brightest) then saturates at 1.
BRIGHTNESS = 0.3


class StyleTask(Task):
    name = "style"
    description = (
        "feed-forward stylization of Fashion-MNIST items with a stripe texture: "
        "content and Gram-matrix style losses in a fixed random convolution bank "
        "(lower is better), also on lowered-contrast and brightened content"
    )
    norms = NORMS
    datasets = ("fashion_mnist",)
    settings = {
        "epochs": 5,
        "batch_size": 8,
        "lr": 1e-3,
        "train_size": 4096,
        "val_size": 512,
        "test_size": 1024,
    }
    quick_settings = {"epochs": 2, "train_size": 512, "val_size": 256, "test_size": 256}
    quick_norms = ("none", "batch", "instance")
    quick_run_seconds = 15

    table_metrics = ("test_style_loss", "test_content_loss", "contrast_shift", "brightness_shift")
    higher_is_better = False
    curve_metric = "val_style_loss"

    def add_arguments(self, parser):
        parser.add_argument(
            "--style-weight",
            type=arguments.positive_float,
            default=STYLE_WEIGHT,
            help=f"weight of the style loss against the content loss (default: {STYLE_WEIGHT:g})",
        )
        parser.add_argument(
            "--contrast",
            type=arguments.positive_float,
            default=0.3,
            help="the factor the low-contrast test images' contrast is scaled by, about "
            "mid-grey (default: 0.3)",
        )
        parser.add_argument(
            "--brightness",
            type=arguments.positive_float,
            default=BRIGHTNESS,
            help="what the brightened test images add to every pixel before clipping to "
            f"[0, 1] (default: {BRIGHTNESS:g})",
        )
        add_schedule_argument(parser)

    def configure(self, config):
        if config["contrast"] >= 1:
            raise ValueError(
                f"--contrast must lower the contrast (a factor below 1), got "
                f"contrast={config['contrast']}"
            )
        if config["brightness"] >= 1:
            raise ValueError(
                f"--brightness must leave some of the image below white (below 1), got "
                f"brightness={config['brightness']}"
            )
        return config

    def run(self, config):
        import keras
        import mlflow
        import numpy as np

        from ..models.style import Stylizer, brightened, lowered_contrast, style_texture
        from ..models.translate import build_translation_generator
        from ..report import plots
        from ..tracking import keras_logging

        keras.utils.set_random_seed(config["seed"])
        data = load_logged_images(config)
        train, val, test = (
            split.map(lambda image, label: image) for split in (data.train, data.val, data.test)
        )
        texture = style_texture()
        model = Stylizer(
            build_translation_generator(config["norm"], seed=config["seed"], input_name="content"),
            texture,
            style_weight=config["style_weight"],
        )
        steps = config["epochs"] * self.epoch_steps(config)
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate(config, steps)),
            **compile_arguments(config),
        )
        mlflow.log_image(plots.image_grid(texture, columns=1), key="style")

        shown = []  # the same content images every epoch

        def log_samples(epoch):
            if not shown:  # at an epoch's end, once validation has read `val` to its end
                shown.append(first_examples(val, SAMPLES).numpy())
            rows = np.concatenate([shown[0], model.predict_on_batch(shown[0])], axis=2)
            mlflow.log_image(plots.image_grid(rows, columns=1), key="stylized", step=epoch)

        history = self.fit(
            model,
            train,
            config,
            data.sizes["train"],
            validation=val,
            callbacks=[keras_logging.EveryEpochs(log_samples)],
        )
        shifts = {
            "low_contrast": (
                "contrast_shift",
                lambda images: lowered_contrast(images, config["contrast"]),
            ),
            "bright": ("brightness_shift", lambda images: brightened(images, config["brightness"])),
        }
        metrics = _test_scores(model, test, shifts)
        mlflow.log_metrics(metrics)
        return self.finish(
            config,
            history,
            model,
            example=shown[0][:4],
            metrics=metrics,
            logged_model=model.network,
            model_name="stylizer",
        )


def _test_scores(model, test, shifts):
    """The losses on the test images and, for each of `shifts` ({suffix:
    (change metric, images -> shifted images)}), the losses on the shifted
    images (`test_<loss>_<suffix>`), how much the stylization loss rises
    there (`degradation_<suffix>`) and the change metric: the mean absolute
    difference of each image's two stylizations."""
    import numpy as np

    scores = {f"test_{k}": v for k, v in model.evaluate(test, return_dict=True, verbose=0).items()}
    # `predict` over the datasets, not per batch: one traced function.
    stylized = model.predict(test, verbose=0)
    for suffix, (change, shift) in shifts.items():
        shifted = test.map(shift)
        losses = model.evaluate(shifted, return_dict=True, verbose=0)
        scores.update({f"test_{k}_{suffix}": v for k, v in losses.items()})
        scores[f"degradation_{suffix}"] = scores[f"test_loss_{suffix}"] - scores["test_loss"]
        scores[change] = float(np.mean(np.abs(stylized - model.predict(shifted, verbose=0))))
    return scores
