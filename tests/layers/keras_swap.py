"""A pytest plugin that puts keras_norms.BatchNormalization in the place of
Keras's, so Keras's own test file runs against ours.

    pytest -p tests.layers.keras_swap <keras>/src/layers/normalization/batch_normalization_test.py
"""

from keras.src import layers

import keras_norms

layers.BatchNormalization = keras_norms.BatchNormalization
