"""How many CPUs a worker counts for its media processes (worker.usable_cpus)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from resimply.worker import usable_cpus


def affinity() -> int:
    return len(os.sched_getaffinity(0))


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [
        ("max 100000\n", None),  # no quota: the cpuset decides
        ("100000 100000\n", 1),
        ("150000 100000\n", 2),  # 1.5 CPUs: two processes, each busy part of the time
        ("5000 100000\n", 1),  # a sliver still gets one
        ("garbage\n", None),
        ("100000 0\n", None),
    ],
)
def test_a_cgroup_cpu_quota_caps_the_count(
    tmp_path: Path, cpu_max: str, expected: int | None
) -> None:
    path = tmp_path / "cpu.max"
    path.write_text(cpu_max)
    want = affinity() if expected is None else min(affinity(), expected)
    assert usable_cpus(path) == want


def test_no_cgroup_file_counts_the_cpuset(tmp_path: Path) -> None:
    assert usable_cpus(tmp_path / "missing") == affinity()


def test_a_quota_above_the_cpuset_does_not_raise_the_count(tmp_path: Path) -> None:
    path = tmp_path / "cpu.max"
    path.write_text(f"{(affinity() + 4) * 100000} 100000\n")
    assert usable_cpus(path) == affinity()
