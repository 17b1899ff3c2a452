"""The keras-norms experiment suite: `python -m experiments --help`, or
`experiments.compare` from Python."""

from .api import compare

__all__ = ["compare"]
