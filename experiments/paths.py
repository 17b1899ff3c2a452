"""Where the suite keeps its MLflow store, reports and caches.

Everything lives under the project directory: the repository checkout the
package runs from (a source tree, or an editable install), found by its
`setup.cfg`. An installed copy (a wheel in site-packages) has no checkout, so
there it is the current directory. `KERAS_NORMS_HOME` names another one, and
`MLFLOW_TRACKING_URI` another store.
"""

import os
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent


def project_dir():
    """The directory holding `mlruns/` and `reports/` (read at call time)."""
    if os.environ.get("KERAS_NORMS_HOME"):
        return Path(os.environ["KERAS_NORMS_HOME"]).resolve()
    if (_CHECKOUT / "setup.cfg").is_file():
        return _CHECKOUT
    return Path.cwd()


def source_checkout():
    """The repository checkout the code runs from, or None for an installed copy."""
    return _CHECKOUT if (_CHECKOUT / ".git").exists() else None


def store_dir():
    return project_dir() / "mlruns"


def reports_dir():
    return project_dir() / "reports"


def cache_dir():
    """Models the suite trains once and reuses (the GAN scores' feature classifier)."""
    return store_dir() / ".cache"
