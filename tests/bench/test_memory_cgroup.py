"""`bench/memory_cgroup.py`: sizes, and a real cgroup's verdicts (skipped where none can be made)."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest

from bench.memory_cgroup import CgroupUnavailable, MemoryCgroup, parse_size

ALLOCATE = "import time; block = b'x' * {size}; time.sleep(0.3)"  # every page written


def test_sizes_are_binary_units():
    assert parse_size("1g") == 1024**3
    assert parse_size("900m") == 900 * 1024**2
    assert parse_size("1.5G") == int(1.5 * 1024**3)
    assert parse_size("512MiB") == 512 * 1024**2
    assert parse_size("4096") == 4096
    with pytest.raises(ValueError, match="not a size: 'lots'"):
        parse_size("lots")


def _run_in(limit: int, size: int) -> tuple[int, MemoryCgroup]:
    try:
        cgroup = MemoryCgroup.create(limit, f"baton-test-{uuid.uuid4().hex[:8]}")
    except CgroupUnavailable as exc:
        pytest.skip(f"no memory cgroup here: {exc}")
    code = subprocess.call(cgroup.command([sys.executable, "-c", ALLOCATE.format(size=size)]))
    return code, cgroup


def test_a_process_within_the_limit_succeeds_and_its_peak_is_counted():
    code, cgroup = _run_in(512 * 1024**2, 200 * 1024**2)
    result = cgroup.result()
    cgroup.remove()
    assert code == 0 and result.oom_kills == 0
    assert result.peak_bytes >= 200 * 1024**2
    assert "sync succeeded (exit 0)" in result.describe(code)
    assert not cgroup.path.exists()


def test_a_process_over_the_limit_is_reported_oom_killed():
    code, cgroup = _run_in(64 * 1024**2, 200 * 1024**2)
    result = cgroup.result()
    cgroup.remove()
    assert code == -9 and result.oom_kills >= 1
    assert "sync FAILED (exit -9, 1 process(es) OOM-killed)" in result.describe(code)
