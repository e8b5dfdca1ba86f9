"""The container health check: healthy while the service reached C1 within the last 10 minutes."""

from __future__ import annotations

import os
import subprocess
import sys
import time

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


def test_a_restarted_service_is_unhealthy_until_it_reaches_c1(
    fake_c1, simulator, pki, tmp_path, start_service
):
    """The file lives on the data volume: a service restarted (crash, new pod on the same volume)
    that cannot reach C1 was reported healthy for up to 10 minutes on its predecessor's last call."""
    from tests.service.conftest import service_env

    home = tmp_path / "home"
    touch(home / ALIVE_FILE)  # the previous service's last successful call, a moment ago
    env = service_env(fake_c1, simulator, home, pki, BATON_C1_API_HOST="127.0.0.1:1")  # nothing there
    service = start_service(env)
    deadline = time.monotonic() + 120
    while "Hello failed" not in service.output() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "Hello failed" in service.output()
    health = subprocess.run(
        [sys.executable, "-m", "orchestration.service.health"],
        env={**os.environ, "BATON_XMATTERS_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert service.stop() == 0
    assert health.returncode == 1, "healthy on the previous service's call"
    assert "the service has not reached C1 yet" in health.stderr
