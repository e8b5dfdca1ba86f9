"""The container's health check: has the service talked to C1 successfully in the last 10 minutes?

Why a file and not a port: the service only makes outgoing calls. After every successful Hello,
GetTask and Heartbeat it touches `$BATON_XMATTERS_HOME/service.alive` (and removes it when it
starts: the volume outlives the process); `python -m orchestration.service.health` exits 0 while
that file is fresh. C1 answers GetTask at most 5 minutes
apart (baton-sdk clamps the poll interval) and heartbeats run during a sync, so a stale file means
the service cannot reach C1 (or is stuck), which is what an orchestrator should see.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path

from orchestration.paths import data_paths

ALIVE_FILE = "service.alive"
MAX_AGE_S = 600.0


def alive_file(env: os._Environ[str] | dict[str, str] | None = None) -> Path:
    return data_paths(env).home / ALIVE_FILE


def touch(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    except OSError:
        pass  # a read-only or full volume must not stop the service; the check will say so


def forget(path: Path) -> None:
    """A starting service has reached nobody yet: the file on the volume is its predecessor's."""
    with contextlib.suppress(OSError):  # as touch: the check will say so
        path.unlink(missing_ok=True)


def check(path: Path, max_age_s: float = MAX_AGE_S, now: float | None = None) -> str | None:
    """None when healthy, else why not (one line)."""
    try:
        age = (time.time() if now is None else now) - path.stat().st_mtime
    except FileNotFoundError:
        return f"{path} does not exist: the service has not reached C1 yet"
    if age > max_age_s:
        return f"no successful call to C1 for {age:.0f} s ({path})"
    return None


def main() -> int:
    problem = check(alive_file())
    if problem:
        print(f"baton-xmatters: unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
