import os
import sys

# Both are read when TensorFlow loads, so they are set before anything imports it.
# The suite trains with TensorFlow (tf.data pipelines, custom train steps).
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# TensorFlow leaves its oneDNN kernels off on some CPUs (AMD among them); with
# them batch norm's fused kernel is several times faster (BENCHMARKS.md).
# Set TF_ENABLE_ONEDNN_OPTS=0 to run without them.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

if os.environ["KERAS_BACKEND"] != "tensorflow":
    sys.exit(
        "The experiment suite runs on the TensorFlow backend. "
        f"Received: KERAS_BACKEND={os.environ['KERAS_BACKEND']!r}"
    )

from experiments.cli import main  # noqa: E402

sys.exit(main())
