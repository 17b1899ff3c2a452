"""The package as a user gets it: built, installed from the wheel, used.

`python -m build` makes the sdist and the wheel; the wheel goes into a fresh
virtual environment with keras and one backend (JAX) and nothing else of this
repository, and a script there uses every layer and `convert`. pip runs with
this machine's configuration (index, mirrors, cache). About a minute with a
warm pip cache; select with `-m wheel`, skip with `-m "not wheel"`.
"""

import os
import pathlib
import subprocess
import sys
import tarfile
import textwrap
import zipfile

import pytest

pytestmark = pytest.mark.wheel

ROOT = pathlib.Path(__file__).resolve().parents[1]

# Run in the fresh environment, from an empty directory, on JAX.
USES_EVERY_LAYER = textwrap.dedent(
    """
    import importlib.metadata
    import importlib.util
    import pathlib
    import sys

    import keras
    import numpy as np

    import keras_norms

    assert keras.backend.backend() == "jax"
    assert pathlib.Path(sys.prefix) in pathlib.Path(keras_norms.__file__).parents
    assert importlib.util.find_spec("tensorflow") is None
    assert keras_norms.__version__ == importlib.metadata.version("keras-norms")

    L = keras.layers
    inputs = keras.Input((8, 8, 3))
    x = keras_norms.WeightNormalization(L.Conv2D(4, 3, padding="same"))(inputs)
    x = keras_norms.MeanOnlyBatchNormalization()(x)
    x = L.Conv2D(4, 3, padding="same")(x)
    x = keras_norms.BatchNormalization()(x)
    x = keras_norms.InstanceNormalization()(L.ReLU()(x))
    x = keras_norms.FilterResponseNormalization(tlu=True)(x)
    x = L.GlobalAveragePooling2D()(x)
    outputs = keras_norms.WeightNormalization(L.Dense(2))(x)
    model = keras.Model(inputs, outputs)

    data = np.random.RandomState(0).normal(size=(16, 8, 8, 3)).astype("float32")
    labels = np.arange(16) % 2
    models = [model] + [keras_norms.convert(model, n) for n in ("instance", "group", "frn")]
    for each in models:
        each.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        loss = each.fit(data, labels, epochs=2, verbose=0).history["loss"]
        assert np.all(np.isfinite(loss)), loss
        each.save("model.keras")
        loaded = keras.saving.load_model("model.keras")
        np.testing.assert_allclose(loaded(data), each(data), rtol=1e-5, atol=1e-5)
    print("used every layer")
    """
)


# Modules of the suite that need only the standard library and Keras.
IMPORTS_THE_SUITE = textwrap.dedent(
    """
    import importlib.util
    import sys

    from keras_norms_experiments import arguments, errors
    from keras_norms_experiments.models import norms

    assert "experiments" not in sys.modules
    assert importlib.util.find_spec("experiments") is None
    assert norms.check_norm("batch") == "batch"
    print("the suite imports as keras_norms_experiments")
    """
)


def _pins(*names):
    """`name==version` for `names`, from constraints.txt."""
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        name, _, version = line.partition("==")
        pins[name.lower().replace("_", "-")] = f"{name}=={version}"
    return [pins[name] for name in names]


def _run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, (
        f"{' '.join(map(str, command))} failed:\n{result.stdout}\n{result.stderr}"
    )
    return result.stdout


def test_wheel_installs_alone_and_every_layer_works(tmp_path):
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "build", "--outdir", dist, ROOT])
    (wheel,) = dist.glob("keras_norms-*.whl")
    (sdist,) = dist.glob("keras_norms-*.tar.gz")

    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(
            next(n for n in names if n.endswith(".dist-info/METADATA"))
        ).decode()
    # No top-level `experiments` to shadow a user's own module of that name.
    assert {n.split("/")[0] for n in names} == {
        "keras_norms",
        "keras_norms_experiments",
        wheel.name.split("-py3")[0] + ".dist-info",
    }
    # The experiment suite travels with the library under its own name, with
    # its console script.
    for module in (
        "keras_norms/kernels/__init__.py",
        "keras_norms_experiments/__main__.py",
        "keras_norms_experiments/cli.py",
        "keras_norms_experiments/tasks/cnn.py",
        "keras_norms_experiments/tracking/store.py",
        "keras_norms_experiments/report/tables.py",
        "keras_norms_experiments/data/idx.py",
    ):
        assert module in names, module
    with zipfile.ZipFile(wheel) as archive:
        entry_points = archive.read(
            next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        ).decode()
    assert "keras-norms-experiments = keras_norms_experiments.cli:entry" in entry_points
    assert "Requires-Dist: keras>=3.6" in metadata
    assert "Requires-Python: >=3.10" in metadata
    assert "Classifier: Framework :: Keras" in metadata
    with tarfile.open(sdist) as archive:
        members = archive.getnames()
    assert any(m.endswith("/CHANGELOG.md") for m in members)
    assert any(m.endswith("/keras_norms/convert.py") for m in members)

    env_dir = tmp_path / "env"
    _run([sys.executable, "-m", "venv", env_dir])
    python = env_dir / "bin" / "python"
    _run([python, "-m", "pip", "install", "-q", wheel] + _pins("keras", "jax", "jaxlib"))
    work = tmp_path / "work"
    work.mkdir()
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("KERAS_", "PYTHON"))
    }
    out = _run(
        [python, "-c", USES_EVERY_LAYER],
        cwd=work,
        env={**env, "KERAS_BACKEND": "jax"},
    )
    assert "used every layer" in out
    # The installed suite imports by its own name, and nothing as `experiments`.
    out = _run([python, "-c", IMPORTS_THE_SUITE], cwd=work, env={**env, "KERAS_BACKEND": "jax"})
    assert "the suite imports as keras_norms_experiments" in out
