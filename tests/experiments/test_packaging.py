"""The suite installs with the package, and keeps its store and reports where the
README says, whatever the current directory."""

import shutil
import subprocess
import sys
import zipfile
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


def test_the_wheel_holds_the_suite_and_its_console_script(tmp_path):
    # Built from a copy: an in-tree build would leave build/ in the checkout.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md", "keras_norms", "experiments"):
        copy = shutil.copytree if (REPO / name).is_dir() else shutil.copy
        copy(REPO / name, source / name, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                            if copy is shutil.copytree else {}))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", str(source), "-w", str(tmp_path)],
                   check=True, cwd=tmp_path, timeout=300, capture_output=True)
    [wheel] = tmp_path.glob("keras_norms-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for module in ("experiments/__main__.py", "experiments/cli.py",
                   "experiments/tasks/cnn.py", "experiments/tracking/store.py",
                   "experiments/report/tables.py", "experiments/data/idx.py"):
        assert module in names, module
    [entry_points] = [name for name in names if name.endswith("entry_points.txt")]
    assert ("keras-norms-experiments = experiments.cli:entry"
            in zipfile.ZipFile(wheel).read(entry_points).decode())
