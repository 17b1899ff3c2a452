"""What an experiment task is, for the command line, sweeps, tracking and the report.

To add a task (say `rnn`), write `experiments/tasks/rnn.py` with a subclass of
`Task` and list it in `experiments/tasks/__init__.py`. Implement:

- class attributes: `name`, `description`, `norms` (the subset of
  `experiments.models.norms.NORMS` it supports), `datasets` (first = default),
  `settings` and `quick_settings` (defaults of the common options: epochs,
  batch_size, lr, train_size, val_size, test_size, and of any own option
  declared with `default=None`; `--quick` applies the second on top of the
  first), `quick_norms` (the quick comparison) and `quick_run_seconds`
  (the seconds one of its quick runs takes in a worker of the quick
  comparison, two at once on a 2-core CPU, as measured on 2026-12-07: the
  quick comparison starts the longest first, so that parallel workers end
  together, and `estimated_run_seconds` scales it to any run, which decides
  whether a small sweep is worth Ray's start); `xla` (False: the compiled
  loop runs without XLA on TensorFlow, where XLA does not compute the same
  or is slower, `experiments.tasks.loop`);
  `trial_memory_bytes` (the memory one run of it takes in a worker of its
  own: a sweep's trials reserve it on Ray, and it sizes how many run at once);
  `compiled_steps` (False: the task calls its updates one at a time, an agent
  acting between them, so its `steps_per_execution` is 1);
- the report's view of it: `table_metrics` (final metrics, the first being the
  primary one; `higher_is_better` is its direction), `curve_metric` (a
  per-epoch metric, logged with `step=epoch`, at every epoch or some),
  `target` (the report counts epochs until `curve_metric` reaches it; None to
  skip) and `references` (rows of the table that are not norms, such as a
  baseline: label -> {table metric: the metric every run logs for it}); a task
  whose metrics depend on the dataset overrides `report_view(dataset)`;
- `add_arguments(parser)`: the task's own options, with their defaults and
  validating `type=` functions (see `experiments.arguments`). The command line
  accepts them only with `--task <name>`; their values land in the config under
  their `dest` names and are logged as params;
- optionally `parse_norm(text)` and `parse_dataset(text)` (a `--norm` or
  `--dataset` value: one of `norms` or `datasets` unless overridden) and
  `configure(config)`: completes one run's config (a dict) from the
  options (raising ValueError for a combination to refuse), before anything is
  logged; `RunConfig.configured` calls it. Params that only restate the norm
  label go in `norm_params`, so the report does not take them for a
  configuration;
- optionally `epoch_steps(config)`: the training steps of one epoch, as a
  study counts steps to a target (default: train_size / batch_size);
- optionally `prepare(config)`: make the data available before any run is
  logged, raising `experiments.errors.DataError` with a message that says how
  to get it. The default prepares the run's image dataset (`--dataset`,
  `--data-dir`) and checks it holds the split sizes asked for;
- `run(config)`: train and evaluate one configuration inside the active MLflow
  run. `config` is an `experiments.run_config.RunConfig`, read as a dict of
  every param, each of its type (common ones: task, norm, dataset, epochs,
  batch_size, lr, seed, quick, train_size, val_size, test_size, data_dir;
  plus the task's own, typed by their `type=` functions' return annotations).
  Load the data with `load_logged_images` (`log_data` logs an `ImageData`
  loaded otherwise; generated data is logged with `mlflow.log_input`), train
  with `self.fit` (per-epoch metrics with `step=epoch`, and the divergence policy: a
  non-finite loss ends the run FAILED, tagged `diverged`), log anything else
  per epoch through `keras_logging.EveryEpochs`, and end with `self.finish`
  (test metrics named `test_<metric>`, learning curves, the model, with the
  final metrics on it). Return the
  final metrics, named as in `table_metrics`. Raise on failure: the caller
  marks the run FAILED;
- optionally `describe(config)`: the run's description in the MLflow UI
  (the default says what trains with which norm, data and settings);
- optionally `report_extras(runs, out_dir)`: Markdown for the task's own
  section of the report (beyond the generic table and curves), given the
  task's finished runs as `mlflow.search_runs` returns them.

The command line, sweeps, tracking and the report know tasks only through this
interface. Keep module-level imports light (no TensorFlow): the command line
imports every task to build `--help`.
"""

import dataclasses
import math

from .. import arguments


@dataclasses.dataclass(frozen=True)
class ReportView:
    """What the report shows of a task's runs on one dataset (see `Task`)."""

    table_metrics: tuple
    higher_is_better: bool
    curve_metric: str
    target: float | None = None
    references: dict = dataclasses.field(default_factory=dict)

    @property
    def validation_metric(self):
        """The metric a best configuration is chosen on: the curve metric where
        it is measured on the validation split (`val_*`), else None. Never a
        test metric: choosing on the test split would report a biased score."""
        return self.curve_metric if self.curve_metric.startswith("val_") else None


class Task:
    name = ""
    description = ""
    norms = ()
    datasets = ()
    settings = {}
    quick_settings = {}
    quick_norms = ()
    quick_run_seconds = 10
    norm_params = ()
    xla = True
    compiled_steps = True
    # A quick cnn, gan or translate run peaks at 1.1 GiB resident in a process
    # of its own (TensorFlow, the data, MLflow; measured with `ru_maxrss`), and
    # a Ray worker adds its own runtime and trains trial after trial.
    trial_memory_bytes = 3 * 2**29  # 1.5 GiB

    table_metrics = ()
    higher_is_better = True
    curve_metric = ""
    target = None
    references = {}

    @property
    def experiment_name(self):
        """The MLflow experiment of the task's runs, unless `--experiment` says otherwise."""
        return f"keras-norms-{self.name}"

    def add_arguments(self, parser):
        """Adds the task's own command-line options to `parser` (an argument group)."""

    def parse_norm(self, text):
        """One `--norm` value, checked (argparse `type=`)."""
        return arguments.choice(self.norms)(text)

    def parse_dataset(self, text):
        """A `--dataset` value, checked (argparse `type=`)."""
        return arguments.choice(self.datasets)(text)

    def configure(self, config):
        """Returns `config` completed for one run; raises ValueError to refuse it."""
        return config

    def epoch_steps(self, config):
        """The training steps of one epoch of the run `config` (a mapping of
        its params), as the studies count steps to a target; None when its
        params do not say."""
        size, batch = config.get("train_size"), config.get("batch_size")
        if size is None or batch is None:
            return None
        return math.ceil(size / batch)

    def estimated_run_seconds(self, config):
        """About how long a run of `config` takes in a worker:
        `quick_run_seconds` scaled by the examples it trains on (epochs x
        train_size) against a quick run's; None where either does not say
        (train_size None: the whole train split) or `quick_run_seconds` is
        None. A command weighs it against Ray's start (`engine.parallel_pays`)."""
        if self.quick_run_seconds is None:
            return None
        quick = {**self.settings, **self.quick_settings}
        work = [
            None
            if each.get("epochs") is None or each.get("train_size") is None
            else each["epochs"] * each["train_size"]
            for each in (config, quick)
        ]
        if None in work:
            return None
        return self.quick_run_seconds * work[0] / work[1]

    def report_view(self, dataset):
        """The report's metrics for runs on `dataset`."""
        return ReportView(
            self.table_metrics,
            self.higher_is_better,
            self.curve_metric,
            self.target,
            self.references,
        )

    def prepare(self, config):
        """Makes the data of `config` available, or raises saying how to get it."""
        from ..data.images import check_split_sizes, prepared_builder

        check_split_sizes(prepared_builder(config["dataset"], config["data_dir"]), config)

    def run(self, config):
        """Trains and evaluates `config` in the active MLflow run; returns final metrics."""
        raise NotImplementedError

    def describe(self, config):
        """A run's description in the MLflow UI (Markdown): what it trains, on what."""
        examples = (
            f"{config['train_size']} training examples"
            if config.get("train_size")
            else "its whole training split"
        )
        return (
            f"**{self.name}**: {self.description}.\n\n"
            f"Normalization `{config['norm']}`, on {config['dataset']} ({examples}), "
            f"{config['epochs']} epochs, batch size {config['batch_size']}, "
            f"learning rate {config['lr']:g}, seed {config['seed']}"
            + (", a quick run" if config.get("quick") else "")
            + "."
        )

    def title(self, config):
        """The title of a run's figures."""
        return f"{self.name}, norm={config['norm']}"

    def fit(
        self,
        model,
        train,
        config,
        train_count,
        validation=None,
        callbacks=(),
        optimizers=None,
        steps_per_epoch=None,
    ):
        """`model.fit` for `config["epochs"]` epochs, logging every epoch's metrics
        (`keras_logging.EpochLogger`, with `optimizers` as there), under the
        divergence policy; returns the history. With `steps_per_epoch`, the
        epochs read on through one pass of `train` instead of each reading
        all of it."""
        from ..tracking import keras_logging
        from .loop import build_before_tracing

        build_before_tracing(model, train)
        monitor = keras_logging.DivergenceMonitor()
        history = model.fit(
            train,
            validation_data=validation,
            epochs=config["epochs"],
            steps_per_epoch=steps_per_epoch,
            shuffle=False,  # the pipelines shuffle, with the run's seed
            callbacks=[
                monitor,
                keras_logging.EpochLogger(train_count, optimizers=optimizers),
                *callbacks,
            ],
        ).history
        monitor.end_run_if_diverged()
        return history

    def finish(
        self,
        config,
        history,
        model,
        example,
        test=None,
        metrics=None,
        logged_model=None,
        model_name="model",
    ):
        """The ending every run shares: scores `model` on `test` (metrics
        `test_<name>`, logged) unless `metrics` (logged already) are given,
        logs the learning curves and the model (`logged_model`, else `model`,
        named `<model_name>-<norm>`, with the run's config as its params and
        a signature on `example`), and records the final metrics and the last
        epoch's as the logged model's too; returns the final metrics."""
        import mlflow

        from ..report import plots
        from ..tracking import keras_logging

        if test is not None:
            scores = model.evaluate(test, return_dict=True, verbose=0)
            metrics = {f"test_{name}": value for name, value in scores.items()}
            mlflow.log_metrics(metrics)
        figure = plots.learning_curves(history, self.title(config))
        mlflow.log_figure(figure, "learning_curves.png")
        plots.close(figure)
        # A logged model's name may not hold "/" (as in the gan task's "batch/weight").
        name = f"{model_name}-{config['norm'].replace('/', '_')}"
        info = keras_logging.log_keras_model(
            logged_model or model,
            example=example,
            name=name,
            params=config.params(),
            step=config["epochs"],
        )
        keras_logging.link_metrics_to_model(info.model_id, metrics or {})
        return metrics

    def report_extras(self, runs, out_dir):
        """Markdown added to the task's report section; `runs` is a DataFrame."""
        return ""


def example_inputs(validation):
    """A few inputs for the logged model's signature, from the `validation`
    pipeline once fit has read it to its end: taking one batch of a cached
    pipeline not yet read through discards its cache (and TensorFlow warns)."""
    return next(iter(validation))[0][:4].numpy()


def first_examples(validation, count):
    """The first `count` examples of the `validation` pipeline as one batch,
    taken (as `example_inputs`) once fit has read it to its end."""
    return next(iter(validation.unbatch().batch(count)))


_CONTEXTS = {"train": "training", "val": "validation", "test": "test"}
# Independent random streams per split of generated data; the test split does
# not depend on the run's seed, so every run is scored on the same examples.
SPLIT_STREAM = {"train": 0, "val": 1, "test": 2}


def generated_splits(config, generate, name):
    """The run's generated splits, role -> `generate(count, seed)`'s
    `(inputs, targets)`, each of `config`'s `<role>_size` from its own random
    stream (`SPLIT_STREAM`), and each logged as an MLflow input `name:role`
    (generated, so its source is this code)."""
    import mlflow

    splits = {}
    for role, context in _CONTEXTS.items():
        seed = [0 if role == "test" else config["seed"], SPLIT_STREAM[role]]
        inputs, targets = generate(config[f"{role}_size"], seed)
        mlflow.log_input(
            mlflow.data.from_numpy(inputs, targets=targets, name=f"{name}:{role}"),
            context=context,
        )
        splits[role] = (inputs, targets)
    return splits


def array_pipelines(splits, config):
    """The train, val and test `splits` (role -> arrays) as batched `tf.data`
    pipelines of `config`'s batch size, the training one shuffled with its seed."""
    import tensorflow as tf

    def pipeline(role):
        dataset = tf.data.Dataset.from_tensor_slices(splits[role])
        if role == "train":
            dataset = dataset.shuffle(len(splits[role][0]), seed=config["seed"])
        return dataset.batch(config["batch_size"]).prefetch(tf.data.AUTOTUNE)

    return pipeline("train"), pipeline("val"), pipeline("test")


def load_logged_images(config, splits=("train", "val", "test")):
    """Loads the run's image dataset and records `splits` as its MLflow inputs
    (`log_data`).

    Returns `experiments.data.images.load_images`'s result for the run's dataset,
    batch size, seed, split sizes and data directory.
    """
    from ..data.images import load_images

    data = load_images(
        config["dataset"],
        batch_size=config["batch_size"],
        seed=config["seed"],
        train_size=config["train_size"],
        val_size=config["val_size"],
        test_size=config["test_size"],
        data_dir=config["data_dir"],
    )
    log_data(data, splits)
    return data


def log_data(data, splits=("train", "val", "test")):
    """Records `splits` of `data` (an `ImageData`) as the active run's MLflow
    inputs, each with where its examples are read from as its source."""
    from ..tracking import runs

    for split in splits:
        runs.log_dataset(data.name, data.source, data.splits[split], _CONTEXTS[split])
