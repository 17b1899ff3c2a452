"""The experiment suite's command line, timed, into a scratch MLflow store;
no framework imports, so the runs' own processes are the only ones to load
TensorFlow."""

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def timed_suite_command(arguments, directory, environment=None, report=True):
    """Runs `python -m experiments ARGUMENTS --out DIRECTORY/report` (without
    `--out` unless `report`: a sweep writes no report) on TensorFlow into a
    store in `directory`; returns its wall time in seconds."""
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{directory}/mlflow.db",
        "KERAS_BACKEND": "tensorflow",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        **(environment or {}),
    }
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "experiments",
            *arguments,
            *(["--out", str(Path(directory) / "report")] if report else []),
        ],
        cwd=REPO,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start
