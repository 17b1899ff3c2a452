"""The documentation site builds, every page and API reference resolved."""

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.docs
def test_docs_build_strict(tmp_path):
    # --strict turns every warning (a broken link, a page missing from the
    # nav, a docstring mkdocstrings cannot read) into a failure.
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    api = (tmp_path / "site" / "convert" / "index.html").read_text()
    assert "keras_norms.convert" in api
    guide = tmp_path / "site" / "migration-from-tensorflow-addons" / "index.html"
    assert "remove()" in guide.read_text()
    # The command-line reference is the code's own --help, every command and task.
    cli = (tmp_path / "site" / "cli" / "index.html").read_text()
    assert "cli-reference" not in cli
    for text in ("usage: python -m experiments study", "--stats-batch", "--n-dis", "--permuted"):
        assert text in cli, text
