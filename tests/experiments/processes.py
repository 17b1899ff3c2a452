"""Child processes the tests start, interrupt and clean up after."""

import os
import signal
import subprocess


def _sigint_at_default():
    # A shell starts its background jobs with SIGINT ignored, and an ignored
    # signal stays ignored across exec: reset it, so that the SIGINT a test
    # sends reaches the child as Ctrl-C would, however pytest was launched.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(args, **kwargs):
    """`subprocess.Popen(args, **kwargs)` leading a process group of its own,
    with SIGINT at its default."""
    return subprocess.Popen(args, preexec_fn=_sigint_at_default, start_new_session=True, **kwargs)


def kill_group(process):
    """Kills what is left of `process`'s group (it and the servers or workers
    it started) and reaps `process`."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=30)
