"""What an experiment task is, for the command line, sweeps, tracking and the report.

To add a task (say `rnn`), write `experiments/tasks/rnn.py` with a subclass of
`Task` and list it in `experiments/tasks/__init__.py`. Implement:

- class attributes: `name`, `description`, `norms` (the subset of
  `experiments.norms.NORMS` it supports), `datasets` (first = default),
  `settings` and `quick_settings` (defaults of the common options: epochs,
  batch_size, lr, train_size, val_size, test_size, and of any own option
  declared with `default=None`; `--quick` applies the second on top of the
  first), `quick_norms` (the quick comparison);
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
- optionally `parse_norm(text)` (a `--norm` value: one of `norms` unless
  overridden) and `configure(config)`: completes one run's config from the
  options (raising ValueError for a combination to refuse), before anything is
  logged. Params that only restate the norm label go in `norm_params`, so the
  report does not take them for a configuration;
- `prepare(config)`: make the data available (download, or prepare from local
  files) before any run is logged; raise `experiments.errors.DataError` with a
  message that says how to get it;
- `run(config)`: train and evaluate one configuration inside the active MLflow
  run. `config` is a dict of every param (common ones: task, norm, dataset,
  epochs, batch_size, lr, seed, quick, train_size, val_size, test_size,
  data_dir; plus the task's own). Log per-epoch metrics with
  `keras_logging.EpochLogger` (or `mlflow.log_metrics(..., step=epoch)`, epochs
  counted from 1), the dataset with `load_logged_images` (or
  `tracking.log_dataset`), the model with
  `keras_logging.log_keras_model`, figures with `mlflow.log_figure`, images with
  `mlflow.log_image` (at epoch ends through `keras_logging.EveryEpochs`), and
  final metrics named as in `table_metrics`. Return the final metrics. Raise on
  failure: the caller marks the run FAILED (`keras_logging.end_if_diverged`
  does so for non-finite losses, with a `diverged` tag);
- optionally `report_extras(runs, out_dir)`: Markdown for the task's own
  section of the report (beyond the generic table and curves), given the
  task's finished runs as `mlflow.search_runs` returns them.

The command line, sweeps, tracking and the report know tasks only through this
interface. Keep module-level imports light (no TensorFlow): the command line
imports every task to build `--help`.
"""

import dataclasses

from experiments import arguments


@dataclasses.dataclass(frozen=True)
class ReportView:
    """What the report shows of a task's runs on one dataset (see `Task`)."""

    table_metrics: tuple
    higher_is_better: bool
    curve_metric: str
    target: float | None = None
    references: dict = dataclasses.field(default_factory=dict)


class Task:
    name = ""
    description = ""
    norms = ()
    datasets = ()
    settings = {}
    quick_settings = {}
    quick_norms = ()
    norm_params = ()

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

    def configure(self, config):
        """Returns `config` completed for one run; raises ValueError to refuse it."""
        return config

    def report_view(self, dataset):
        """The report's metrics for runs on `dataset`."""
        return ReportView(self.table_metrics, self.higher_is_better, self.curve_metric,
                          self.target, self.references)

    def prepare(self, config):
        """Makes the data of `config` available, or raises saying how to get it."""

    def run(self, config):
        """Trains and evaluates `config` in the active MLflow run; returns final metrics."""
        raise NotImplementedError

    def report_extras(self, runs, out_dir):
        """Markdown added to the task's report section; `runs` is a DataFrame."""
        return ""



_CONTEXTS = {"train": "training", "val": "validation", "test": "test"}


def load_logged_images(config, splits=("train", "val", "test")):
    """Loads the run's image dataset and records `splits` as its MLflow inputs.

    Returns `experiments.data.load_images`'s result for the run's dataset,
    batch size, seed, split sizes and data directory.
    """
    from experiments import tracking
    from experiments.data import load_images

    data = load_images(
        config["dataset"],
        batch_size=config["batch_size"],
        seed=config["seed"],
        train_size=config["train_size"],
        val_size=config["val_size"],
        test_size=config["test_size"],
        data_dir=config["data_dir"],
    )
    for split in splits:
        tracking.log_dataset(
            data.name, data.source, data.splits[split], _CONTEXTS[split]
        )
    return data
