"""Forward+backward time of the normalization layers on the running backend.

For each layer and input, in one process and interleaved: ours, Keras's
built-in, the framework's native layer where it has one (TensorFlow's
`fused_batch_norm` op; torch's `BatchNorm*d`/`InstanceNorm*d`; flax's
`BatchNorm`/`GroupNorm(group_size=1)` on JAX), and the memory floor
(`y = 2 * x`: one read and one write of the tensor each way). Prints medians
and ratios and writes them to `benchmarks/results/`. Usage:

    KERAS_BACKEND=torch python benchmarks/bench_layers.py [--repeats 30]
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
from timing import (
    BACKEND,
    command_line,
    compile_modes,
    floor_step,
    function_step,
    interleaved_medians,
    layer_step,
    save,
    torch_device,
)

import keras_norms

SHAPES = {
    "image (128, 28, 28, 32)": (128, 28, 28, 32),
    "sequence (64, 100, 128)": (64, 100, 128),
}
EPSILON = 1e-3

# name: (ours, Keras's, Keras's name)
LAYERS = {
    "BatchNormalization": (
        keras_norms.BatchNormalization,
        keras.layers.BatchNormalization,
        "BatchNormalization",
    ),
    "InstanceNormalization": (
        keras_norms.InstanceNormalization,
        lambda: keras.layers.GroupNormalization(groups=-1),
        "GroupNormalization(groups=-1)",
    ),
}


def tensorflow_native(layer, shape, compiled):
    """TensorFlow's fused batch-norm op and the moving-average updates."""
    if layer != "BatchNormalization":
        return None  # TensorFlow has no instance-norm op.
    import tensorflow as tf

    channels = shape[-1]
    gamma = tf.Variable(tf.ones(channels))
    beta = tf.Variable(tf.zeros(channels))
    moving_mean = tf.Variable(tf.zeros(channels))
    moving_variance = tf.Variable(tf.ones(channels))

    def fn(x):
        y, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            tf.reshape(x, (-1, 1, 1, channels)),
            gamma,
            beta,
            epsilon=EPSILON,
            is_training=True,
        )
        moving_mean.assign(moving_mean * 0.99 + mean * 0.01)
        moving_variance.assign(moving_variance * 0.99 + variance * 0.01)
        return tf.reshape(y, tf.shape(x))

    return "tf fused_batch_norm", function_step(fn, shape, compiled, params=[gamma, beta])


def torch_native(layer, shape, compiled):
    """torch's module on its own layout, channels first."""
    import torch

    channels = shape[-1]
    rank = len(shape) - 2
    if layer == "BatchNormalization":
        cls = getattr(torch.nn, f"BatchNorm{rank}d")
        module = cls(channels, eps=EPSILON, momentum=0.01)
    else:
        cls = getattr(torch.nn, f"InstanceNorm{rank}d")
        module = cls(channels, eps=EPSILON, affine=True)
    module.to(torch_device())
    channels_first = (shape[0], channels) + tuple(shape[1:-1])
    return f"torch {cls.__name__}", function_step(
        module, channels_first, compiled, params=list(module.parameters())
    )


def jax_native(layer, shape, compiled):
    """flax's linen layer, where flax is installed."""
    try:
        import flax.linen as nn
    except ImportError:
        return None
    import jax

    if layer == "BatchNormalization":
        module = nn.BatchNorm(use_running_average=False, momentum=0.99, epsilon=EPSILON)
        name = "flax BatchNorm"
    else:
        module = nn.GroupNorm(num_groups=None, group_size=1, epsilon=EPSILON)
        name = "flax GroupNorm(group_size=1)"
    variables = module.init(jax.random.key(0), jax.numpy.zeros(shape))
    state = variables.get("batch_stats", {})

    def fn(params, state, x):
        if not state:
            return module.apply({"params": params}, x), state
        y, updates = module.apply(
            {"params": params, "batch_stats": state}, x, mutable=["batch_stats"]
        )
        return y, updates["batch_stats"]

    return name, function_step(fn, shape, compiled, params=variables["params"], state=state)


NATIVE = {"tensorflow": tensorflow_native, "torch": torch_native, "jax": jax_native}


def main():
    args = command_line(__doc__).parse_args()

    rows = []
    for layer, (ours, theirs, _) in LAYERS.items():
        for shape_name, shape in SHAPES.items():
            for mode, compiled in compile_modes():
                contenders = {
                    "ours": layer_step(ours(), shape, compiled),
                    "keras": layer_step(theirs(), shape, compiled),
                    "floor": floor_step(shape, compiled),
                }
                native = NATIVE[BACKEND](layer, shape, compiled)
                native_name = "none"
                if native is not None:
                    native_name, contenders["native"] = native
                ms = interleaved_medians(contenders, args.repeats)
                ms = {name: seconds * 1e3 for name, seconds in ms.items()}
                rows.append(
                    [
                        layer,
                        shape_name,
                        mode,
                        f"{ms['ours']:.2f}",
                        f"{ms['keras']:.2f}",
                        f"{ms['ours'] / ms['keras']:.2f}",
                        native_name,
                        f"{ms['native']:.2f}" if native else "-",
                        f"{ms['ours'] / ms['native']:.2f}" if native else "-",
                        f"{ms['floor']:.2f}",
                        f"{ms['ours'] / ms['floor']:.2f}",
                    ]
                )
                print(" | ".join(rows[-1]), flush=True)
    header = [
        "layer",
        "input",
        "mode",
        "ours ms",
        "keras ms",
        "vs keras",
        "native",
        "native ms",
        "vs native",
        "floor ms",
        "vs floor",
    ]
    save("layers", args.repeats, {"layers": (header, rows)})


if __name__ == "__main__":
    main()
