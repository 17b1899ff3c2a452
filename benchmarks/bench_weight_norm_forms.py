"""Formulations of weight norm, forward+backward, against the plain layer.

`WeightNormalization` can compute `y = x * (g * v / ||v||) + b` (`*` a
matmul or a convolution) in three ways; this script times each against the
plain `x * v + b`, per layer type, in one process, interleaved:

- kernel form: the effective kernel first, gradients by autodiff (what the
  generic kernel does);
- kernel form with a hand-written gradient that shares the per-unit
  reduction `sum(dw * v)` between `dv` and `dg`;
- output scaling: `y = (g / ||v||) * (x * v) + b`, by autodiff, which
  scales the output instead of the kernel;
- on torch, also its fused kernel form `torch._weight_norm`.

Where this measured fastest, the library took the form: TensorFlow's kernel
has the hand-written gradient, JAX keeps autodiff (the generic kernel),
torch uses its fused op.

Usage (any backend):

    KERAS_BACKEND=tensorflow python benchmarks/bench_weight_norm_forms.py [--repeats 30]
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from keras import ops
from timing import (
    BACKEND,
    command_line,
    compile_modes,
    function_step,
    interleaved_medians,
    save,
    torch_device,
)

# name: (input shape, kernel shape, op applying a kernel).
CASES = {
    "Dense(1024)": ((256, 1024), (1024, 1024), ops.matmul),
    "Conv2D(64, 3)": (
        (64, 28, 28, 32),
        (3, 3, 32, 64),
        lambda x, k: ops.conv(x, k, padding="valid"),
    ),
}


def inverse_norm(v):
    axes = tuple(range(len(v.shape) - 1))
    return ops.rsqrt(ops.sum(ops.square(v), axis=axes, keepdims=True))


def kernel_form(v, g):
    return v * (g * inverse_norm(v))


@ops.custom_gradient
def kernel_form_closed_gradient(v, g):
    inv = inverse_norm(v)
    scale = g * inv

    def grad(*args, upstream=None):
        dw = args[0] if upstream is None else upstream
        axes = tuple(range(len(v.shape) - 1))
        dot = ops.sum(dw * v, axis=axes, keepdims=True)
        dv = scale * (dw - v * (dot * ops.square(inv)))
        return dv, dot * inv

    return v * scale, grad


FORMS = {
    "plain": lambda op, x, v, g, b: op(x, v) + b,
    "kernel form": lambda op, x, v, g, b: op(x, kernel_form(v, g)) + b,
    # A variable passed to a TensorFlow custom gradient gets no gradient.
    "kernel form, closed gradient": lambda op, x, v, g, b: (
        op(
            x,
            kernel_form_closed_gradient(ops.convert_to_tensor(v), ops.convert_to_tensor(g)),
        )
        + b
    ),
    "output scaling": lambda op, x, v, g, b: op(x, v) * ops.reshape(g * inverse_norm(v), (-1,)) + b,
}
if BACKEND == "torch":
    import torch

    FORMS["fused torch._weight_norm"] = lambda op, x, v, g, b: (
        op(x, torch._weight_norm(v, g, v.ndim - 1)) + b
    )


def contender(form, op, shape, kernel_shape, compiled):
    rng = np.random.default_rng(2)
    v = rng.normal(size=kernel_shape).astype("float32") * 0.05
    g = np.ones((1,) * (len(kernel_shape) - 1) + kernel_shape[-1:], "float32")
    b = np.zeros(kernel_shape[-1:], "float32")
    if BACKEND == "tensorflow":
        import tensorflow as tf

        v, g, b = (tf.Variable(a) for a in (v, g, b))
    elif BACKEND == "jax":
        import jax.numpy as jnp

        v, g, b = (jnp.asarray(a) for a in (v, g, b))
    else:
        import torch

        v, g, b = (torch.tensor(a, device=torch_device(), requires_grad=True) for a in (v, g, b))
    # The plain layer has no `g` to differentiate.
    plain = form is FORMS["plain"]
    params = [v, b] if plain else [v, g, b]

    def apply(x, params):
        v, g_or_b, *rest = params
        return form(op, x, v, g, g_or_b) if plain else form(op, x, v, g_or_b, *rest)

    if BACKEND == "jax":
        return function_step(lambda p, s, x: (apply(x, p), s), shape, compiled, params)
    return function_step(lambda x: apply(x, params), shape, compiled, params)


def main():
    args = command_line(__doc__).parse_args()

    rows = []
    for name, (shape, kernel_shape, op) in CASES.items():
        for mode, compiled in compile_modes():
            medians = interleaved_medians(
                {
                    form_name: contender(form, op, shape, kernel_shape, compiled)
                    for form_name, form in FORMS.items()
                },
                args.repeats,
            )
            plain = medians.pop("plain")
            for form_name, seconds in medians.items():
                rows.append(
                    [
                        name,
                        mode,
                        form_name,
                        f"{plain * 1e3:.2f}",
                        f"{seconds * 1e3:.2f}",
                        f"{seconds / plain:.2f}",
                    ]
                )
                print(" | ".join(rows[-1]), flush=True)
    header = ["layer", "mode", "form", "plain ms", "form ms", "ratio"]
    save("weight_norm_forms", args.repeats, {"forms": (header, rows)})


if __name__ == "__main__":
    main()
