"""The initializations of the fully connected networks' hidden layers: the
batch norm paper's small Gaussian weights ("paper"); the one that keeps the
signal's variance through the activation ("scaled": He et al. 2015 for ReLU,
Glorot & Bengio 2010 otherwise), so that a deep network without normalization
is not handicapped by its start; or, for a residual network, the same with
each residual branch's weights divided by the number of branches
("depth-scaled"): the branches' scales then sum to one however deep the
network, which keeps the activations' mean length bounded (Hanin & Rolnick
2018), where unscaled branches each double it. Keras is imported on first
use: the command line reads `INITS`."""

import importlib

INITS = ("paper", "scaled", "depth-scaled")


def initializer(init, activation, seed, branches=1):
    """The Keras initializer of `init` (one of `INITS`) before `activation`;
    `branches`: the residual branches a "depth-scaled" network sums (1 for a
    layer that is not one), each branch's weights divided by it."""
    initializers = importlib.import_module("keras").initializers
    if init == "paper":
        return initializers.RandomNormal(stddev=0.1, seed=seed)
    # He and Glorot normal, written out so that a branch's variance can be divided.
    scale, mode = (2.0, "fan_in") if activation == "relu" else (1.0, "fan_avg")
    if init == "depth-scaled":
        scale /= branches**2
    return initializers.VarianceScaling(scale, mode, "truncated_normal", seed=seed)
