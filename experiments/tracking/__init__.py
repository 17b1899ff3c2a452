"""MLflow tracking: the store (`store`), the life cycle of a run (`runs`), and
logging a Keras model and its training (`keras_logging`, which imports Keras)."""
