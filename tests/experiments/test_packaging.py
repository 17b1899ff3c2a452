"""The suite keeps its store and reports where the README says, whatever the
current directory; it installs under its own name (the wheel's contents are
checked in tests/test_package.py)."""

import ast
import configparser
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


def test_setup_cfg_lists_every_package_and_maps_the_suite_to_its_own_name():
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    listed = set(config["options"]["packages"].split())
    assert config["options"]["package_dir"].split() == [
        "keras_norms_experiments",
        "=",
        "experiments",
    ]
    on_disk = set()
    for folder, name in (
        ("keras_norms", "keras_norms"),
        ("experiments", "keras_norms_experiments"),
    ):
        for init in (REPO / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(REPO / folder).parts
            on_disk.add(".".join((name, *parts)))
    assert listed == on_disk


def test_the_suite_imports_itself_relatively():
    """An absolute `experiments` import would fail where the suite is installed
    as keras_norms_experiments (or import a user's own `experiments`)."""
    absolute = []
    for path in (REPO / "experiments").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom) and not node.level
                else [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            if any(name == "experiments" or name.startswith("experiments.") for name in names):
                absolute.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert absolute == []
