"""The run history's files give back what the retention freed: VACUUM when worth it, leftovers removed.

Deleting runs frees pages inside the SQLite files, which SQLite reuses but never returns: a home
that ran a year of hourly syncs before the retention existed kept its 3.8 GB file after the
retention had deleted all but the kept runs. So after the retention, a file whose free pages are
at least `WORTH_BYTES` and a quarter of it is rewritten (`VACUUM`, then a WAL checkpoint that
truncates it). Not otherwise: in a steady home each sync frees about what the next one fills, and
rewriting the file at every sync would cost time for nothing.

Other processes may use the file meanwhile: the UI's webserver and daemon (`make ui`) read and
write it. `VACUUM` needs the file to itself for as long as it runs, so
- it is not started while another process has the file open (Linux: `/proc/<pid>/fd`), and it
  names that process; the next sync tries again;
- it waits for no lock (a busy file is skipped) and is interrupted after `DEADLINE_S` (rolled
  back whole: SQLite's VACUUM is one transaction), well within the 30 s Dagster's own SQLite
  connections wait for a lock, so a process that opens the file meanwhile waits and never fails.

Homes first written before 2026-11-27 kept one event-log file per run (`history/runs/<run id>.db`,
Dagster's `SqliteEventLogStorage`); deleting a run emptied its file but left it. Files of runs the
run storage no longer has are removed.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

WORTH_BYTES = 8 * 1024 * 1024
DEADLINE_S = 5.0
_SHARD_DIR = ("history", "runs")  # Dagster's one-file-per-run event log, beside its index.db
_INDEX = "index.db"
_SIDE_FILES = ("", "-wal", "-shm", "-journal")


@dataclass(frozen=True)
class Reclaimed:
    """What `reclaim` did to one file: its size before and after, or why it was left."""

    path: Path
    before: int
    after: int
    skipped: str | None = None

    def summary(self) -> str:
        if self.skipped:
            return f"{self.path.name}: {self.skipped}"
        return f"{self.path.name}: {self.before:,} -> {self.after:,} bytes"


def history_files(root: Path) -> list[Path]:
    """The home's SQLite files of run history: run storage and event log (`history/*.db`), and the
    index of a one-file-per-run event log."""
    files = sorted((root / "history").glob("*.db"))
    index = root.joinpath(*_SHARD_DIR, _INDEX)
    return files + [index] if index.is_file() else files


def reclaim(
    files: Iterable[Path], deadline_s: float = DEADLINE_S, worth: int = WORTH_BYTES
) -> list[Reclaimed]:
    """VACUUMs each file worth it (module docstring); the files left as they were are not listed
    unless another process held them or the vacuum failed."""
    done: list[Reclaimed] = []
    for path in files:
        free, size = _free_bytes(path)
        if free < max(worth, size // 4):
            continue
        holder = _other_holder(path)
        if holder is not None:
            done.append(Reclaimed(path, size, size, f"{free:,} free bytes kept: open in {holder}"))
            continue
        done.append(_vacuum(path, size, deadline_s))
    return done


def remove_leftover_shards(instance: dg.DagsterInstance, root: Path) -> int:
    """Deletes the one-file-per-run event logs of runs that are gone; returns how many runs' files.

    The directory is listed before the runs are read: a file seen there was created by a run that
    already existed, so one created meanwhile is never taken for a leftover."""
    shard_dir = root.joinpath(*_SHARD_DIR)
    if not shard_dir.is_dir():
        return 0
    run_ids = {path.name[: -len(".db")] for path in shard_dir.glob("*.db") if path.name != _INDEX}
    if not run_ids:
        return 0
    existing = {
        r.dagster_run.run_id for r in instance.get_run_records(filters=dg.RunsFilter(run_ids=list(run_ids)))
    }
    gone = run_ids - existing
    for run_id in gone:
        remove_shard(shard_dir, run_id)
    return len(gone)


def remove_shard(shard_dir: Path, run_id: str) -> None:
    """One run's event-log file and its journal files, if any."""
    for suffix in _SIDE_FILES:
        (shard_dir / f"{run_id}.db{suffix}").unlink(missing_ok=True)


def shard_dir(root: Path) -> Path:
    return root.joinpath(*_SHARD_DIR)


def _free_bytes(path: Path) -> tuple[int, int]:
    """(bytes on SQLite's free list, file size); (0, size) for a file SQLite cannot read now."""
    size = path.stat().st_size
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0)
        try:
            page_size = con.execute("PRAGMA page_size").fetchone()[0]
            free_pages = con.execute("PRAGMA freelist_count").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0, size
    return page_size * free_pages, size


def _vacuum(path: Path, before: int, deadline_s: float) -> Reclaimed:
    deadline = time.monotonic() + deadline_s
    con = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        con.set_progress_handler(lambda: time.monotonic() > deadline, 1000)
        try:
            con.execute("VACUUM")
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.OperationalError as exc:  # interrupted, or busy: rolled back, nothing lost
            reason = f"took over {deadline_s:g} s" if "interrupt" in str(exc) else str(exc)
            return Reclaimed(path, before, path.stat().st_size, f"not vacuumed ({reason})")
    finally:
        con.close()
    return Reclaimed(path, before, path.stat().st_size)


def _other_holder(path: Path) -> str | None:
    """Another process that has the file (or its WAL) open, as 'PID n (program)'; None if none is
    seen (another user's processes are not: SQLite's locks and the deadline still hold)."""
    targets = {os.path.realpath(f"{path}{suffix}") for suffix in _SIDE_FILES}
    me = os.getpid()
    try:
        pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return None
    for pid in pids:
        if pid == me:
            continue
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"{fd_dir}/{fd}") in targets:
                    return f"PID {pid} ({_program(pid)})"
            except OSError:
                continue
    return None


def _program(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            words = [w.decode(errors="replace") for w in f.read().split(b"\0") if w]
    except OSError:
        return "?"
    return " ".join(os.path.basename(w) if i == 0 else w for i, w in enumerate(words[:3])) or "?"
