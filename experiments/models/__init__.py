"""Model builders. Each takes a `norm` name (see `experiments.norms`) and returns a
Keras model that differs between norms only in its normalization layers."""
