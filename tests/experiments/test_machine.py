"""Cores and memory within a control group's limits, on fake cgroup trees."""

import types

import psutil
import pytest

from experiments import machine

GIB = 2**30


@pytest.fixture
def eight_cores_64_gib(monkeypatch):
    monkeypatch.setattr(machine.os, "sched_getaffinity", lambda pid: set(range(8)))
    monkeypatch.setattr(psutil, "virtual_memory", lambda: types.SimpleNamespace(available=64 * GIB))


def _write(directory, files):
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)


def test_cgroup_v2_limits_bind(tmp_path, eight_cores_64_gib):
    _write(
        tmp_path / "pod" / "ctr",
        {"memory.max": str(4 * GIB), "memory.current": str(GIB), "cpu.max": "150000 100000"},
    )
    membership = "0::/pod/ctr\n"
    assert machine.cpus(tmp_path, membership) == 1  # 1.5 cores' quota, rounded down
    assert machine.available_memory(tmp_path, membership) == 3 * GIB


def test_a_parent_groups_limit_binds_its_children(tmp_path, eight_cores_64_gib):
    _write(
        tmp_path / "pod",
        {"memory.max": str(2 * GIB), "memory.current": str(GIB // 2), "cpu.max": "400000 100000"},
    )
    _write(
        tmp_path / "pod" / "ctr",
        {"memory.max": "max", "memory.current": str(GIB // 4), "cpu.max": "max 100000"},
    )
    membership = "0::/pod/ctr\n"
    assert machine.cpus(tmp_path, membership) == 4
    assert machine.available_memory(tmp_path, membership) == 1.5 * GIB


def test_cgroup_v1_limits_bind(tmp_path, eight_cores_64_gib):
    _write(
        tmp_path / "memory" / "docker" / "abc",
        {"memory.limit_in_bytes": str(3 * GIB), "memory.usage_in_bytes": str(GIB)},
    )
    _write(
        tmp_path / "cpu" / "docker" / "abc",
        {"cpu.cfs_quota_us": "200000", "cpu.cfs_period_us": "100000"},
    )
    membership = "5:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n"
    assert machine.cpus(tmp_path, membership) == 2
    assert machine.available_memory(tmp_path, membership) == 2 * GIB


def test_no_limits_leave_the_machines_figures(tmp_path, eight_cores_64_gib):
    unlimited_v1 = str(2**63 - 4096)
    _write(
        tmp_path / "memory",
        {"memory.limit_in_bytes": unlimited_v1, "memory.usage_in_bytes": str(GIB)},
    )
    _write(tmp_path / "cpu", {"cpu.cfs_quota_us": "-1", "cpu.cfs_period_us": "100000"})
    membership = "5:memory:/\n3:cpu,cpuacct:/\n"
    assert machine.cpus(tmp_path, membership) == 8
    assert machine.available_memory(tmp_path, membership) == 64 * GIB
    # No control group files at all (another OS, an unmounted tree).
    assert machine.cpus(tmp_path / "none", "0::/\n") == 8
    assert machine.available_memory(tmp_path / "none", "0::/\n") == 64 * GIB


def test_inside_a_container_namespace_the_group_is_the_mount(tmp_path, eight_cores_64_gib):
    # The host's path is not under the container's mount: the mount is the group.
    _write(tmp_path, {"memory.max": str(GIB), "memory.current": "0", "cpu.max": "100000 100000"})
    membership = "0::/kubepods/pod7/ctr\n"
    assert machine.cpus(tmp_path, membership) == 1
    assert machine.available_memory(tmp_path, membership) == GIB


def test_without_an_affinity_mask_every_core_counts(tmp_path, monkeypatch):
    # macOS and Windows have no os.sched_getaffinity.
    monkeypatch.delattr(machine.os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(machine.os, "cpu_count", lambda: 6)
    assert machine.cpus(tmp_path / "none", "0::/\n") == 6
    _write(tmp_path, {"cpu.max": "200000 100000"})
    assert machine.cpus(tmp_path, "0::/\n") == 2
    monkeypatch.setattr(machine.os, "cpu_count", lambda: None)  # undeterminable
    assert machine.cpus(tmp_path / "none", "0::/\n") == 1
