"""Each task's temporary directory, and the removal at start-up of those a killed service left.

Why: a service killed outright (SIGKILL, an OOM kill, a node lost) cannot remove its task's
directory, so every kill left one under the temp dir (`--c1z-temp-dir`, or the system's), with
whatever the interrupted sync had written there. The next service removes them, and only them: a
directory whose name is exactly one `mkdtemp` made with our prefix, that is a directory (not a
symlink), belongs to this user and is not in use. In use means its lock file is locked: the service
holds `flock` on it while the task runs, and the kernel drops that lock when the holder dies,
however it died, so a second service sharing the temp dir never removes a live task's directory.
The task's sync process holds it as well (it inherits the locked file, `TaskDir.lock_fd`): a service
killed mid-sync leaves its sync running on for the second or two it takes to see that and stop
(child.py), still writing in the directory, and a service started meanwhile removed it under it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import stat
import tempfile
import time
from pathlib import Path

logger = logging.getLogger("baton_xmatters.service")

TASK_PREFIX = "baton-xmatters-task-"
PROBE_PREFIX = "baton-xmatters-probe-"  # run.check_temp_dir's, removed at once unless killed then
LOCK_NAME = ".lock"
# mkdtemp's names: the prefix and 8 characters of its alphabet (tempfile._RandomNameSequence)
_OURS = re.compile(rf"(?:{re.escape(TASK_PREFIX)}|{re.escape(PROBE_PREFIX)})[a-z0-9_]{{8}}")
# A directory without a lock may be one being made this instant by another service: left alone
# unless it is older than this.
UNLOCKED_GRACE_S = 60.0


class TaskDir:
    """A new task directory (OSError if it cannot be made), locked until `remove()`."""

    def __init__(self, temp_dir: str | None) -> None:
        self.path = Path(tempfile.mkdtemp(prefix=TASK_PREFIX, dir=temp_dir))
        try:
            self._lock = os.open(
                self.path / LOCK_NAME, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600
            )
            fcntl.flock(self._lock, fcntl.LOCK_EX)
        except OSError:
            shutil.rmtree(self.path, ignore_errors=True)
            raise

    @property
    def lock_fd(self) -> int:
        """The locked file: a process given it holds the lock with us until it, too, is gone."""
        return self._lock

    def remove(self) -> None:
        """The directory goes first, then the lock: no one sees it unlocked with content."""
        shutil.rmtree(self.path, ignore_errors=True)
        os.close(self._lock)


def remove_stale(temp_dir: str | None) -> list[Path]:
    """Removes the task directories under `temp_dir` that no living service holds; returns them."""
    where = Path(temp_dir or tempfile.gettempdir())
    removed: list[Path] = []
    try:
        entries = list(os.scandir(where))
    except OSError as exc:
        logger.warning("cannot list %s for task directories left by a killed service: %s", where, exc)
        return removed
    for entry in entries:
        if not _OURS.fullmatch(entry.name):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
                continue
            if _remove_unless_in_use(Path(entry.path), info.st_mtime):
                removed.append(Path(entry.path))
        except OSError as exc:
            logger.warning("cannot remove %s, left by a killed service: %s", entry.path, exc)
    if removed:
        logger.info(
            "removed %d task director%s under %s left by a service that was killed",
            len(removed),
            "y" if len(removed) == 1 else "ies",
            where,
        )
    return removed


def _remove_unless_in_use(path: Path, mtime: float) -> bool:
    try:
        lock = os.open(path / LOCK_NAME, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        if time.time() - mtime < UNLOCKED_GRACE_S:
            return False
        shutil.rmtree(path)
        return True
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # a living service's task
        shutil.rmtree(path)
        return True
    finally:
        os.close(lock)
