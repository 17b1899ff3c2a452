"""Hooks of the whole test run, pytest-xdist's controller included (which
loads no conftest below this one)."""

import json

# The loopback namespace's results (tests/experiments/conftest.py), in the
# session's temporary root.
LOOPBACK_RESULTS = "loopback-results.json"


def pytest_terminal_summary(terminalreporter):
    """The slowest tests of the namespace's run, which the outer run times as one."""
    results = terminalreporter.config._tmp_path_factory.getbasetemp() / LOOPBACK_RESULTS
    if not results.exists():
        return
    timed = sorted(
        (report["duration"], report["when"], nodeid)
        for nodeid, report in json.loads(results.read_text()).items()
        if "duration" in report
    )
    if timed:
        terminalreporter.write_sep("=", "slowest tests in the loopback namespace")
        for duration, when, nodeid in timed[::-1][:20]:
            terminalreporter.write_line(f"{duration:.2f}s {when:<8} {nodeid}")
