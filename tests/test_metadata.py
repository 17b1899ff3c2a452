"""The package's declared metadata: its version moves with the changes, each
backend has its extra."""

import configparser
import pathlib
import re

from packaging.requirements import Requirement
from packaging.version import Version

import keras_norms

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _extras():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return {
        name: [
            Requirement(line)
            for line in text.splitlines()
            if line.strip() and not line.strip().startswith("#")
        ]
        for name, text in config["options.extras_require"].items()
    }


def test_the_version_is_the_next_release_in_development_and_the_changelog_names_it():
    version = Version(keras_norms.__version__)
    changelog = (ROOT / "CHANGELOG.md").read_text()
    released = [Version(v) for v in re.findall(r"^## \[(\d[^\]]*)\]", changelog, re.MULTILINE)]
    assert version > max(released)
    # Unreleased changes are never logged under a released number.
    assert version.is_devrelease or version.is_prerelease
    [unreleased] = re.findall(r"^## \[Unreleased\].*$", changelog, re.MULTILINE)
    assert keras_norms.__version__ in unreleased


def test_logged_runs_record_the_version_of_the_code_that_runs():
    from experiments.tracking.runs import software_versions

    assert software_versions()["keras_norms_version"] == keras_norms.__version__


def test_every_backend_has_an_extra_and_torch_is_pinned_in_the_constraints():
    extras = _extras()
    assert {"tf", "jax", "torch"} <= set(extras)
    [torch] = extras["torch"]
    assert torch.name == "torch" and "2.4" in torch.specifier and "2.3" not in torch.specifier
    # The exact release (a CPU build) comes from constraints.txt, as for dev.
    assert [r.specifier for r in extras["dev"] if r.name == "torch"] == [torch.specifier]
    pins = [
        line
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if line.startswith("torch==")
    ]
    assert len(pins) == 1 and Version(pins[0].partition("==")[2]) in torch.specifier
