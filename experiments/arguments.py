"""argparse `type=` functions that refuse bad values with the value received.

argparse turns their ArgumentTypeError into "argument --epochs: must be a
positive integer, got '0'", before anything is logged. Each is annotated with
the type it returns: a task option's param has that type
(`experiments.run_config`).
"""

import argparse
import math
import re


def positive_int(text) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def int_at_least(minimum):
    """An integer no smaller than `minimum`."""

    def parse(text) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text!r}")
        return value

    return parse


def non_negative_int(text) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}")
    return value


def positive_float(text) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def below_one(text) -> float:
    """A number in [0, 1): a momentum, Adam's betas."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1), got {text!r}")
    return value


def count_or_fraction(text) -> int | float:
    """A number of examples (an integer >= 1) or a share of them (a number
    strictly between 0 and 1): `5000` or `0.1`."""
    try:
        value = int(text)
    except ValueError:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not 0 < value < 1:
            value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(
            f"must be a count (an integer >= 1) or a fraction between 0 and 1, got {text!r}"
        )
    return value


def choice(choices):
    """A value from `choices`; the error lists them (argparse's `choices=` does too,
    but this one also serves `comma_list`)."""

    def parse(text) -> str:
        if text not in choices:
            raise argparse.ArgumentTypeError(
                f"invalid choice {text!r} (choose from {', '.join(choices)})"
            )
        return text

    return parse


def comma_list(item_type):
    """A comma-separated list, each item parsed by `item_type`, no duplicates."""

    def parse(text):
        items = [item_type(item.strip()) for item in text.split(",") if item.strip()]
        if not items:
            raise argparse.ArgumentTypeError(f"must list at least one value, got {text!r}")
        return list(dict.fromkeys(items))

    return parse


def seeds(text) -> list[int]:
    """`--seeds` of sweep and study alike: a count N means seeds 0..N-1
    (`3`: 0, 1, 2), a comma-separated list names them (`0,4,7`; one seed other
    than 0 is `5,`)."""
    if "," in text:
        return comma_list(non_negative_int)(text)
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(
            f"must be a count N >= 1 (seeds 0..N-1) or a comma-separated list of seeds "
            f"such as 0,4,7, got {text!r}"
        )
    return list(range(count))


def port(text) -> int:
    """A TCP port number, 1-65535."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number in 1-65535, got {text!r}")
    return value


_SIZE_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def memory_size(text) -> int:
    """A size in bytes: a number of bytes, or with K, M, G or T (powers of
    1024, an optional "B" or "iB" after): "1.5G", "800M", "2GiB"."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([KMGT]?)(?:I?B)?\s*", text.upper())
    size = int(float(found[1]) * _SIZE_UNITS[found[2]]) if found else 0
    if size < 1:
        raise argparse.ArgumentTypeError(
            f"must be a size such as 1.5G or 800M (K, M, G, T: powers of 1024), got {text!r}"
        )
    return size


def gpu_count(text) -> float:
    """GPUs for one trial: 0, a fraction of one (several trials share it), or
    a whole number (Ray gives more than one GPU only whole)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (value >= 0 and (value <= 1 or value.is_integer())):
        raise argparse.ArgumentTypeError(
            f"must be 0, a fraction of a GPU up to 1 (e.g. 0.5) or a whole number, got {text!r}"
        )
    return value
