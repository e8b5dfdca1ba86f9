"""The container health check: healthy while the service reached C1 within the last 10 minutes."""

from __future__ import annotations

import os
import subprocess
import sys

from orchestration.service.health import ALIVE_FILE, MAX_AGE_S, check, touch


def test_fresh_stale_and_missing(tmp_path):
    path = tmp_path / ALIVE_FILE
    assert "does not exist" in check(path)
    touch(path)
    assert check(path) is None
    mtime = path.stat().st_mtime
    assert check(path, now=mtime + MAX_AGE_S - 1) is None
    assert check(path, now=mtime + MAX_AGE_S + 5).startswith("no successful call to C1 for 605 s")


def test_the_module_exits_1_with_one_line_when_unhealthy(tmp_path):
    env = {**os.environ, "BATON_XMATTERS_HOME": str(tmp_path)}
    run = [sys.executable, "-m", "orchestration.service.health"]
    sick = subprocess.run(run, env=env, capture_output=True, text=True, timeout=60)
    assert sick.returncode == 1
    assert sick.stderr.startswith("baton-xmatters: unhealthy: ") and sick.stderr.count("\n") == 1
    touch(tmp_path / ALIVE_FILE)
    assert subprocess.run(run, env=env, timeout=60).returncode == 0
