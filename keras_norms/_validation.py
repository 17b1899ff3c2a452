"""Argument checks shared by the layers.

Every error names the argument and the value received, so a user sees at once
which constructor argument or input is wrong.
"""

import numbers


def check_epsilon(epsilon):
    """Returns `epsilon` as a float, or raises if it is not positive."""
    if isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real) or not epsilon > 0:
        raise ValueError(
            f"Argument `epsilon` must be a positive number. Received: epsilon={epsilon!r}"
        )
    return float(epsilon)


def check_momentum(momentum, name="momentum"):
    """Returns `momentum` as a float, or raises if it is outside [0, 1).

    `name` is the argument's name, for the error message.
    """
    if (
        isinstance(momentum, bool)
        or not isinstance(momentum, numbers.Real)
        or not 0.0 <= momentum < 1.0
    ):
        raise ValueError(
            f"Argument `{name}` must be a number in [0, 1). Received: {name}={momentum!r}"
        )
    return float(momentum)


_RENORM_CLIPPING_KEYS = ("rmax", "rmin", "dmax")


def check_renorm_clipping(renorm_clipping):
    """Returns `renorm_clipping` as a dict of floats (`{}` for None).

    Its keys are among `rmax`, `rmin` and `dmax`, with `rmin <= rmax` and
    `dmax >= 0`; a value of None is the same as a missing key.
    """
    if renorm_clipping is None:
        return {}
    # The messages begin as Keras's do, so code matching them still works.
    if not isinstance(renorm_clipping, dict):
        raise ValueError(
            "Argument `renorm_clipping` must be a dict or None. "
            f"Received: renorm_clipping={renorm_clipping!r}"
        )
    if set(renorm_clipping) - set(_RENORM_CLIPPING_KEYS):
        raise ValueError(
            "Received invalid keys for `renorm_clipping` argument: "
            f"{renorm_clipping!r}. Supported keys: {list(_RENORM_CLIPPING_KEYS)}"
        )
    clipping = {}
    for key, value in renorm_clipping.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(
                f"Argument `renorm_clipping` must map {key!r} to a number. "
                f"Received: renorm_clipping={renorm_clipping!r}"
            )
        clipping[key] = float(value)
    if clipping.get("rmin", 0.0) > clipping.get("rmax", float("inf")):
        raise ValueError(
            "rmax should be greater than or equal to rmin in the "
            f"`renorm_clipping` argument. Received: "
            f"renorm_clipping={renorm_clipping!r}"
        )
    if clipping.get("dmax", 0.0) < 0:
        raise ValueError(
            "dmax should be non-negative in the `renorm_clipping` argument. "
            f"Received: renorm_clipping={renorm_clipping!r}"
        )
    return clipping


def check_axis(axis, allow_list=False):
    """Checks the type of an `axis` argument at construction time.

    Returns an int, or a tuple of ints when `allow_list` is set and a list or
    tuple was given. The range is checked against the input rank in `build`
    by `resolve_axes`.
    """

    def is_int(value):
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)

    if is_int(axis):
        return int(axis)
    if allow_list and isinstance(axis, (list, tuple)) and axis:
        if all(is_int(a) for a in axis):
            return tuple(int(a) for a in axis)
    expected = "an int or a non-empty list of ints" if allow_list else "an int"
    raise ValueError(f"Argument `axis` must be {expected}. Received: axis={axis!r}")


def resolve_axes(axis, ndim):
    """Maps `axis` (an int or tuple of ints) to sorted non-negative axes.

    Raises if an axis is out of range for an input of rank `ndim`, names the
    batch axis, or appears twice.
    """
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    resolved = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(
                f"Argument `axis` is out of range for an input of rank {ndim}. "
                f"Received: axis={axis!r}"
            )
        resolved.append(a % ndim)
    if 0 in resolved:
        raise ValueError(
            "Argument `axis` must not include the batch axis 0. "
            f"Received: axis={axis!r} for an input of rank {ndim}"
        )
    if len(set(resolved)) != len(resolved):
        raise ValueError(f"Argument `axis` lists an axis twice. Received: axis={axis!r}")
    return tuple(sorted(resolved))


def check_channels_defined(input_shape, axes, layer_name):
    """Raises if a normalized (channel) axis has an undefined size."""
    for a in axes:
        if input_shape[a] is None:
            raise ValueError(
                f"Layer {layer_name} needs a defined size on the channel "
                f"axis {a}. Received: input_shape={tuple(input_shape)}"
            )


def check_min_rank(input_shape, min_rank, layer_name):
    """Raises if the input rank is below `min_rank`."""
    if len(input_shape) < min_rank:
        raise ValueError(
            f"Layer {layer_name} expects an input of rank >= {min_rank}. "
            f"Received: input_shape={tuple(input_shape)}"
        )


def check_input_shape(input_shape, axis, min_rank, layer_name):
    """Checks an input shape at build time; returns the resolved `axis`.

    The rank must be at least `min_rank`, `axis` valid for it, and the
    normalized axes of defined size.
    """
    check_min_rank(input_shape, min_rank, layer_name)
    axes = resolve_axes(axis, len(input_shape))
    check_channels_defined(input_shape, axes, layer_name)
    return axes
