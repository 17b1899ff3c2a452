"""keras-norms: Batch, Instance, Weight and Filter Response Normalization for Keras 3."""

# The next release's development version: it moves on at each release, so a
# model logged from this code never claims to be 0.1.0.
__version__ = "0.2.0.dev0"

from keras_norms._tensorflow_addons import load_tensorflow_addons_model
from keras_norms.batch_normalization import BatchNormalization
from keras_norms.convert import convert
from keras_norms.filter_response_normalization import (
    FilterResponseNormalization,
)
from keras_norms.instance_normalization import InstanceNormalization
from keras_norms.mean_only_batch_normalization import MeanOnlyBatchNormalization
from keras_norms.weight_normalization import WeightNormalization

__all__ = [
    "BatchNormalization",
    "FilterResponseNormalization",
    "InstanceNormalization",
    "MeanOnlyBatchNormalization",
    "WeightNormalization",
    "__version__",
    "convert",
    "load_tensorflow_addons_model",
]
