"""keras-norms: Batch, Instance and Weight Normalization layers for Keras 3."""

__version__ = "0.1.0"

from keras_norms.batch_normalization import BatchNormalization
from keras_norms.instance_normalization import InstanceNormalization

__all__ = [
    "BatchNormalization",
    "InstanceNormalization",
    "__version__",
]
