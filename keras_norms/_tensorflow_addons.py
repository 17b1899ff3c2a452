"""The names tensorflow-addons saved its layers under.

Keras configs written with `tfa.layers.InstanceNormalization`,
`tfa.layers.WeightNormalization` and `tfa.layers.FilterResponseNormalization`
name them `Addons>InstanceNormalization`, `Addons>WeightNormalization` and
`Addons>FilterResponseNormalization`. Registering our layers under those names too
lets such configs load after `import keras_norms`; our own configs keep
naming them `keras_norms>...`.
"""

import keras

from keras_norms.filter_response_normalization import (
    FilterResponseNormalization,
)
from keras_norms.instance_normalization import InstanceNormalization
from keras_norms.weight_normalization import WeightNormalization

keras.saving.get_custom_objects().update(
    {
        "Addons>InstanceNormalization": InstanceNormalization,
        "Addons>WeightNormalization": WeightNormalization,
        "Addons>FilterResponseNormalization": FilterResponseNormalization,
    }
)
