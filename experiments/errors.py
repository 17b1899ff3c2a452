"""Errors the command line reports as one clear line, without a traceback."""


class ExperimentError(RuntimeError):
    """A problem the user can fix; the message says how."""


class DataError(ExperimentError):
    """The dataset cannot be read; the message says how to get it."""


class ModelError(ExperimentError):
    """The user's model cannot be built or loaded; the message says why."""


class TrackingError(ExperimentError):
    """The tracking store cannot be used; the message says which and why."""


class ReportError(ExperimentError):
    """Nothing to report; the message says what to run first."""


class SweepError(ExperimentError):
    """Some runs of a sweep failed (each is marked FAILED with its error)."""


class TrainingDiverged(ExperimentError):
    """Training stopped because its losses became NaN or infinite."""
