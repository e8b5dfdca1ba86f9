"""A memory cgroup for one benchmarked sync (`bench/run.py --memory-limit 1g`).

The sync process and its worker processes run under a hard memory limit, as in a container; the
kernel's own accounting then says how much the whole tree peaked at (`memory.max_usage_in_bytes`,
cgroup v1; `memory.peak`, v2) and whether the limit was hit (`failcnt`) or a process was OOM-killed.
The cgroup's usage includes the page cache of the files the sync writes (DuckDB, parquet, the
`.c1z`), which the kernel reclaims before it kills anything, so its peak can read higher than the
summed RSS and a sync at the limit is still fine as long as nothing was killed.

Creating a cgroup needs root and a writable cgroup filesystem; without one, `MemoryCgroup.create`
raises `CgroupUnavailable` with the reason.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

V1_ROOT = Path("/sys/fs/cgroup/memory")
V1_PARENT = V1_ROOT / "process_api"  # this machine's delegated tree; the root otherwise
V2_ROOT = Path("/sys/fs/cgroup")

_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


class CgroupUnavailable(Exception):
    """No memory cgroup can be made here (not root, no cgroup filesystem, no memory controller)."""


def parse_size(text: str) -> int:
    """Bytes of `512m`, `1g`, `1.5G`, `1073741824` (binary units)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmg]?)i?b?\s*", text.lower())
    if not match:
        raise ValueError(f"not a size: {text!r} (e.g. 900m, 1g)")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


@dataclass(frozen=True)
class CgroupResult:
    version: int
    limit_bytes: int
    peak_bytes: int
    failcnt: int  # times usage hit the limit (v1: memory.failcnt; v2: memory.events "max")
    oom_kills: int
    peak_anon_bytes: int = 0  # polled: the processes' own memory, without the page cache

    def describe(self, exit_code: int) -> str:
        verdict = "succeeded" if exit_code == 0 and not self.oom_kills else "FAILED"
        killed = f", {self.oom_kills} process(es) OOM-killed" if self.oom_kills else ""
        return (
            f"memory cgroup v{self.version} limit {self.limit_bytes / 1024**2:,.0f} MiB: sync {verdict} "
            f"(exit {exit_code}{killed}); peak usage {self.peak_bytes / 1024**2:,.0f} MiB (page cache "
            f"included), limit reached {self.failcnt:,} times; peak without the page cache "
            f"{self.peak_anon_bytes / 1024**2:,.0f} MiB (polled)"
        )


class MemoryCgroup:
    """One fresh cgroup with a memory limit; `command` wraps a command line so it starts inside."""

    def __init__(self, path: Path, version: int, limit_bytes: int) -> None:
        self.path = path
        self.version = version
        self.limit_bytes = limit_bytes
        self._peak_anon = 0
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll_anon, daemon=True)
        self._poller.start()

    def _poll_anon(self) -> None:
        """The cgroup's anonymous memory (RSS, v1 `total_rss`; v2 `anon`) every 50 ms: its peak is
        the processes' own memory, which the kernel cannot reclaim, unlike the page cache."""
        key = "total_rss" if self.version == 1 else "anon"
        while not self._stop.wait(0.05):
            self._peak_anon = max(self._peak_anon, _field(self._read("memory.stat"), key))

    @classmethod
    def create(cls, limit_bytes: int, name: str) -> MemoryCgroup:
        if (V1_ROOT / "memory.limit_in_bytes").exists():
            parent = V1_PARENT if V1_PARENT.is_dir() else V1_ROOT
            return cls._make(parent / name, 1, limit_bytes, {"memory.limit_in_bytes": str(limit_bytes)})
        controllers = V2_ROOT / "cgroup.controllers"
        if controllers.exists() and "memory" in controllers.read_text().split():
            own = Path("/proc/self/cgroup").read_text().splitlines()[-1].split("::", 1)[-1].strip("/")
            parent = V2_ROOT / own if own else V2_ROOT
            return cls._make(
                parent / name, 2, limit_bytes, {"memory.max": str(limit_bytes), "memory.swap.max": "0"}
            )
        raise CgroupUnavailable(f"no memory cgroup controller under {V1_ROOT} (v1) or {V2_ROOT} (v2)")

    @classmethod
    def _make(cls, path: Path, version: int, limit_bytes: int, settings: dict[str, str]) -> MemoryCgroup:
        try:
            path.mkdir()
            for key, value in settings.items():
                setting = path / key
                if setting.exists():  # memory.swap.max is absent without swap accounting
                    setting.write_text(value)
        except OSError as exc:
            raise CgroupUnavailable(
                f"cannot set up the memory cgroup {path}: {exc.strerror or exc}"
            ) from None
        return cls(path, version, limit_bytes)

    def command(self, command: list[str]) -> list[str]:
        """`command` started by a shell that first moves itself into the cgroup, then execs it
        (same pid), so every process of the sync is accounted from its first allocation."""
        return ["sh", "-c", 'echo $$ > "$0" && exec "$@"', str(self.path / "cgroup.procs"), *command]

    def result(self) -> CgroupResult:
        self._stop.set()
        self._poller.join()
        if self.version == 1:
            peak = int(self._read("memory.max_usage_in_bytes") or 0)
            failcnt = int(self._read("memory.failcnt") or 0)
            oom_kills = _field(self._read("memory.oom_control"), "oom_kill")
        else:
            peak = int(self._read("memory.peak") or 0)
            events = self._read("memory.events")
            failcnt = _field(events, "max")
            oom_kills = _field(events, "oom_kill")
        return CgroupResult(self.version, self.limit_bytes, peak, failcnt, oom_kills, self._peak_anon)

    def remove(self) -> None:
        """Removes the cgroup. An OOM-killed sync leaves its worker processes behind for a moment
        (they end when their pipe closes); any still in the cgroup after a second are the sync's
        own children, killed by pid. A cgroup that stays busy is reported, not fatal."""
        self._stop.set()
        deadline = time.monotonic() + 5
        while True:
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError as exc:
                if time.monotonic() > deadline:
                    print(f"could not remove the cgroup {self.path}: {exc.strerror or exc}")
                    return
            if time.monotonic() > deadline - 4:
                for pid in self._read("cgroup.procs").split():
                    with contextlib.suppress(OSError):
                        os.kill(int(pid), signal.SIGKILL)
            time.sleep(0.1)

    def _read(self, name: str) -> str:
        try:
            return (self.path / name).read_text()
        except OSError:
            return ""


def _field(text: str, key: str) -> int:
    """The value of `key` in a `key value` per line file (memory.oom_control, memory.events)."""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == key:
            return int(parts[1])
    return 0


def unique_name() -> str:
    return f"baton-bench-{os.getpid()}"


def usable_limit(size: str | None) -> int | None:
    """A `--memory-limit` value in bytes (None when not given), once a cgroup of it could be made here.

    Checked before any sync runs, so a machine without cgroups fails at once with the reason.
    """
    if not size:
        return None
    limit = parse_size(size)
    MemoryCgroup.create(limit, f"baton-bench-{os.getpid()}-probe").remove()
    return limit
