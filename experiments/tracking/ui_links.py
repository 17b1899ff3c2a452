"""Links into the MLflow UI (MLflow 3) that open what a user came for.

Checked against the UI bundled with MLflow 3.17 (mlflow/server/js/build):

- it routes in the URL's fragment: `#/experiments/ID/runs`,
  `#/experiments/ID/runs/RUN`, `#/experiments/ID/runs/RUN/artifactPath/PATH`;
- an experiment opens on the GenAI view unless `workflowType=machine_learning`
  is in the query (the toggle's state is otherwise kept per browser);
- `viewStateShareKey=KEY` loads the runs view's state (filter, order, columns,
  grouping) as JSON from the experiment tag `mlflow.sharedViewState.KEY`: the
  same tag the UI's own "Share" button writes. A view published that way opens
  with each run's norm and primary metric as the first columns, the runs
  grouped by norm (one colour, one averaged curve per norm in the charts).
"""

import json

import mlflow

DEFAULT_UI = "http://127.0.0.1:5000"
MACHINE_LEARNING = "workflowType=machine_learning"
VIEW_TAG_PREFIX = "mlflow.sharedViewState."
# The view of every training run of an experiment, and of one study's.
ALL_RUNS_VIEW = "by-norm"


def view_key(study=None):
    """The share key of the by-norm view of `study` (of every run without one)."""
    return f"{ALL_RUNS_VIEW}-{study}" if study else ALL_RUNS_VIEW


def runs_url(base, experiment_id, key=None):
    """The experiment's runs table in model-training mode, in the view `key` if given."""
    query = MACHINE_LEARNING + (f"&viewStateShareKey={key}" if key else "")
    return f"{base}/#/experiments/{experiment_id}/runs?{query}"


def run_url(base, experiment_id, run_id):
    """A run's page: its description (a sweep's per-norm table), metrics, params."""
    return f"{base}/#/experiments/{experiment_id}/runs/{run_id}?{MACHINE_LEARNING}"


def artifact_url(base, experiment_id, run_id, path):
    """A run's artifacts tab with the file `path` open."""
    return (
        f"{base}/#/experiments/{experiment_id}/runs/{run_id}/artifactPath/{path}?{MACHINE_LEARNING}"
    )


def norm_view_state(view, study=None):
    """The runs view's state (as the UI's JSON has it) that compares norms:
    only training runs (of `study`), the norm, the task's primary metric and
    its validation metric first, sorted best first, grouped by norm, every run
    in the charts. `view` is the task's `ReportView`."""
    primary = view.table_metrics[0]
    metrics = [primary, *([view.validation_metric] if view.validation_metric else [])]
    query = "tags.run_kind = 'train'" + (f" and tags.study = '{study}'" if study else "")
    return {
        "searchFilter": query,
        "orderByKey": f"metrics.`{primary}`",
        "orderByAsc": not view.higher_is_better,
        "startTime": "ALL",
        "lifecycleFilter": "Active",
        # Bookkeeping (source, models, datasets, system metrics) stays out of the
        # first view; the UI orders params by name, and the run's name already
        # says its batch size and rate, so the norm is the first param shown.
        "selectedColumns": [
            "params.`norm`",
            *(f"metrics.`{metric}`" for metric in metrics),
            "params.`seed`",
        ],
        "groupBy": {
            "aggregateFunction": "average",
            "groupByKeys": [{"mode": "param", "groupByData": "norm"}],
        },
        "runsHiddenMode": "SHOW_ALL",
        "useGroupedValuesInCharts": True,
        "hideEmptyCharts": True,
    }


def publish_norm_view(experiment_id, view, study=None):
    """Stores the by-norm view of `study` on the experiment; returns its key."""
    key = view_key(study)
    mlflow.MlflowClient().set_experiment_tag(
        experiment_id, VIEW_TAG_PREFIX + key, json.dumps(norm_view_state(view, study))
    )
    return key


def _latest(client, experiment_id, query):
    found = client.search_runs(
        [experiment_id], query, order_by=["attributes.start_time DESC"], max_results=1
    )
    return found[0] if found else None


def experiment_links(base, tasks, study=None, experiments=None):
    """Lines naming, for each experiment of the suite in the store (those of
    `experiments`, names, when given) with training runs (of `study`): the
    runs view by norm (published now) and the latest sweep's parent run with
    its report. `tasks` maps task names to tasks (a run's tag `task` names its)."""
    client = mlflow.MlflowClient()
    study_query = f" and tags.study = '{study}'" if study else ""
    found = (
        [client.get_experiment_by_name(name) for name in experiments]
        if experiments
        else client.search_experiments()
    )
    lines = []
    for experiment in filter(None, found):
        run = _latest(client, experiment.experiment_id, f"tags.run_kind = 'train'{study_query}")
        task = tasks.get(run.data.tags.get("task")) if run else None
        if task is None:
            continue
        view = task.report_view(run.data.params.get("dataset"))
        key = publish_norm_view(experiment.experiment_id, view, study)
        lines += [
            f"{experiment.name}:",
            f"  runs side by side by norm:  {runs_url(base, experiment.experiment_id, key)}",
        ]
        parent = _latest(client, experiment.experiment_id, f"tags.run_kind = 'sweep'{study_query}")
        if parent is not None:
            run_id = parent.info.run_id
            lines += [
                f"  the sweep's parent run:     {run_url(base, experiment.experiment_id, run_id)}",
                "  its report:                 "
                + artifact_url(base, experiment.experiment_id, run_id, "report/report.html"),
            ]
    return lines
