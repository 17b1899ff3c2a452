"""What this machine lets a command use: cores and memory, within the limits
of the control group it runs in (a container's, a Kubernetes pod's), which
the processor and memory counts of the whole machine do not show."""

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")

# cgroup v2 file, cgroup v1 file, and how each says "no limit".
_MEMORY_LIMIT = ("memory.max", "memory.limit_in_bytes")
_MEMORY_USAGE = ("memory.current", "memory.usage_in_bytes")
# Above this a v1 memory limit means none (the kernel reports a page-rounded
# maximum, about 2**63).
_V1_UNLIMITED = 2**62


def cpus(root=CGROUP_ROOT, membership=None):
    """The cores this process may run on, no more than its CPU quota allows
    (rounded down, at least one)."""
    count = _usable_cores()
    quotas = [_cpu_quota(directory, v2) for directory, v2 in _directories("cpu", root, membership)]
    quotas = [quota for quota in quotas if quota is not None]
    return max(1, min([count] + [math.floor(quota) for quota in quotas]))


def _usable_cores():
    """The cores this process may be scheduled on: its affinity mask where the
    platform has one (Linux), else every core the machine has (macOS and
    Windows have no `os.sched_getaffinity`)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def available_memory(root=CGROUP_ROOT, membership=None):
    """Bytes of memory new processes may take without swapping: the machine's
    available memory, or what a control group's limit leaves, if less."""
    import psutil

    available = psutil.virtual_memory().available
    for directory, v2 in _directories("memory", root, membership):
        limit = _read_int(directory / _MEMORY_LIMIT[not v2])
        usage = _read_int(directory / _MEMORY_USAGE[not v2])
        if limit is not None and usage is not None and (v2 or limit < _V1_UNLIMITED):
            available = min(available, max(0, limit - usage))
    return available


def _directories(controller, root, membership):
    """This process's control group directories for `controller`, and
    whether each is cgroup v2: the group's own and its ancestors (a limit
    set on a parent, a pod's, binds its children), where they are mounted.

    `membership` is the text of /proc/self/cgroup (read when None).
    """
    if membership is None:
        try:
            membership = Path("/proc/self/cgroup").read_text()
        except OSError:
            return []
    found = []
    for line in membership.splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            v2, base = True, root
        elif controller in controllers.split(","):
            v2, base = False, root / controller
        else:
            continue
        # Inside a container's cgroup namespace the group is mounted at the
        # base itself, whatever path the host sees.
        directory = base / path.lstrip("/")
        if not directory.is_dir():
            directory = base
        while True:
            found.append((directory, v2))
            if directory == base:
                break
            directory = directory.parent
    return found


def _cpu_quota(directory, v2):
    """Cores the group's CPU quota allows, or None without one."""
    if v2:
        try:
            quota, period = (directory / "cpu.max").read_text().split()
        except (OSError, ValueError):
            return None
        return None if quota == "max" else int(quota) / int(period)
    quota = _read_int(directory / "cpu.cfs_quota_us")
    period = _read_int(directory / "cpu.cfs_period_us")
    if quota is None or period is None or quota < 0:
        return None
    return quota / period


def _read_int(path):
    """The integer in `path`; None where it is missing or says "max"."""
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return None
