"""keras-norms: Batch, Instance and Weight Normalization layers for Keras 3."""

# The next release's development version: it moves on at each release, so a
# model logged from this code never claims to be 0.1.0.
__version__ = "0.2.0.dev0"

from keras_norms.batch_normalization import BatchNormalization
from keras_norms.convert import convert
from keras_norms.instance_normalization import InstanceNormalization
from keras_norms.mean_only_batch_normalization import MeanOnlyBatchNormalization
from keras_norms.weight_normalization import WeightNormalization
from keras_norms import _tensorflow_addons  # noqa: F401  (registers names)

__all__ = [
    "BatchNormalization",
    "InstanceNormalization",
    "MeanOnlyBatchNormalization",
    "WeightNormalization",
    "__version__",
    "convert",
]
