"""The initializations of the fully connected networks' hidden layers: the
batch norm paper's small Gaussian weights ("paper"), or the one that keeps the
signal's variance through the activation ("scaled": He et al. 2015 for ReLU,
Glorot & Bengio 2010 otherwise), so that a deep network without normalization
is not handicapped by its start. Keras is imported on first use: the command
line reads `INITS`."""

import importlib

INITS = ("paper", "scaled")


def initializer(init, activation, seed):
    """The Keras initializer of `init` (one of `INITS`) before `activation`."""
    initializers = importlib.import_module("keras").initializers
    if init == "paper":
        return initializers.RandomNormal(stddev=0.1, seed=seed)
    if activation == "relu":
        return initializers.HeNormal(seed=seed)
    return initializers.GlorotNormal(seed=seed)
