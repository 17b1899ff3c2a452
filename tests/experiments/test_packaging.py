"""The suite keeps its store and reports where the README says, whatever the
current directory (the wheel's contents are checked in tests/test_package.py)."""

from pathlib import Path

from experiments import paths
from experiments.tracking import store

REPO = Path(__file__).resolve().parents[2]


def test_store_and_reports_stay_in_the_checkout_whatever_the_cwd(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("KERAS_NORMS_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    assert store.default_uri() == f"sqlite:///{REPO / 'mlruns' / 'mlflow.db'}"
    assert paths.reports_dir() == REPO / "reports"
    monkeypatch.setenv("KERAS_NORMS_HOME", str(tmp_path / "home"))
    assert store.tracking_uri() == f"sqlite:///{tmp_path / 'home' / 'mlruns' / 'mlflow.db'}"
    assert paths.reports_dir() == tmp_path / "home" / "reports"
