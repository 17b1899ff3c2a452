"""The keras-norms experiment suite: `python -m experiments --help`."""
