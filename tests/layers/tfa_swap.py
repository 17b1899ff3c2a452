"""A pytest plugin that puts keras_norms's layers where tensorflow-addons'
test files import tensorflow-addons' from, so those files run against ours.

    pytest -p tests.layers.tfa_swap <addons>/tensorflow_addons/layers/tests/normalizations_test.py

tensorflow-addons does not import under Keras 3, so the modules its test
files name are made here: `tensorflow_addons.layers.normalizations` holds
keras_norms's FilterResponseNormalization and InstanceNormalization and
Keras's GroupNormalization, and the fixture its tests use,
`maybe_run_functions_eagerly` (each test eagerly and in tf.function), is
defined as its `test_utils` defined it.
"""

import sys
import types

import keras
import pytest

import keras_norms

_MODULES = {
    "tensorflow_addons": {},
    "tensorflow_addons.layers": {},
    "tensorflow_addons.layers.normalizations": {
        "FilterResponseNormalization": keras_norms.FilterResponseNormalization,
        "InstanceNormalization": keras_norms.InstanceNormalization,
        "GroupNormalization": keras.layers.GroupNormalization,
    },
}

for _name, _members in _MODULES.items():
    _module = types.ModuleType(_name)
    _module.__dict__.update(_members)
    # A package, so that `tensorflow_addons.layers.tests` resolves to the
    # test files' own folder when pytest imports them by package.
    _module.__path__ = []
    sys.modules.setdefault(_name, _module)


@pytest.fixture(params=["eager_mode", "tf_function"])
def maybe_run_functions_eagerly(request):
    import tensorflow as tf

    tf.config.run_functions_eagerly(request.param == "eager_mode")
    yield
    tf.config.run_functions_eagerly(False)
