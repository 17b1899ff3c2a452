"""The quick comparison (`make demo`) end to end, at its smallest: every built-in
task's quick sweep, one study, then the report and the way to the UI."""

import mlflow

from experiments import paths
from experiments.cli import main
from experiments.tasks import TASKS
from tests.experiments.conftest import TINY_SETTINGS

# The tiny dataset's sizes, one epoch, and a norm or two per task (with weight norm
# and a generator/discriminator pair among them).
SMALLEST = {
    "cnn": ({**TINY_SETTINGS, "epochs": 1}, ("none", "batch")),
    "rnn": ({**TINY_SETTINGS, "epochs": 1}, ("weight",)),
    "gan": (
        {
            **TINY_SETTINGS,
            "epochs": 1,
            "train_size": 128,
            "val_size": 64,
            "score_every": 1,
            "fid_samples": 48,
        },
        ("batch/weight",),
    ),
    "translate": (
        {
            **TINY_SETTINGS,
            "epochs": 1,
            "batch_size": 8,
            "train_size": 24,
            "val_size": 16,
            "test_size": 16,
        },
        ("instance",),
    ),
    "style": (
        {**TINY_SETTINGS, "epochs": 1, "train_size": 24, "val_size": 16, "test_size": 16},
        ("instance",),
    ),
}


def test_quick_runs_every_task_then_writes_the_report(
    store, tiny_data, tiny_feature_cache, monkeypatch, tmp_path, capsys
):
    for name, (settings, norms) in SMALLEST.items():
        monkeypatch.setattr(TASKS[name], "quick_settings", settings)
        monkeypatch.setattr(TASKS[name], "quick_norms", norms)
    monkeypatch.setattr(paths, "cache_dir", lambda: tiny_feature_cache)

    assert main(["quick", "--out", str(tmp_path / "quick"), "--workers", "1"]) == 0

    out = capsys.readouterr().out
    assert "Quick comparison done in" in out and "python -m experiments ui" in out
    mlflow.set_tracking_uri(store)
    runs = mlflow.search_runs(search_all_experiments=True)
    # Every task but custom, which needs the user's model, online and rl,
    # whose point (a shifting stream of thousands of examples, an agent's
    # learning curve) a quick run cannot show, and text, kept out to keep the
    # comparison at its few minutes.
    assert (
        set(runs["tags.task"])
        == set(SMALLEST)
        == set(TASKS)
        - {
            "custom",
            "online",
            "rl",
            "text",
        }
    )
    assert (runs["status"] == "FINISHED").all()
    assert runs["tags.study"].nunique() == 1 and runs["tags.study"][0].startswith("quick-")
    parents = runs[runs["tags.run_kind"] == "sweep"]
    assert len(parents) == len(SMALLEST)
    children = runs[runs["tags.run_kind"] == "train"]
    assert sorted(children["params.norm"]) == sorted(
        norm for _, norms in SMALLEST.values() for norm in norms
    )
    assert set(children["tags.mlflow.parentRunId"]) == set(parents["run_id"])
    assert (children["params.quick"] == "True").all()

    report = (tmp_path / "quick" / "report.md").read_text()
    for name, (_, norms) in SMALLEST.items():
        assert f"## {name}: " in report
        for norm in norms:
            assert f"| {norm} | 1 |" in report
