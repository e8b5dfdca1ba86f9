"""A reader of the warehouse holds the CLI sync's lock file shared while it has the file open.

A CLI sync holds `<warehouse>.lock` exclusively from its start to its end (sync_command.sync_lock),
before DuckDB's own lock exists: in its first seconds the warehouse opens read-only, and a sync that
opens it while a reader does fails. Held shared by `sql` and `diff`, the lock makes them say a
sync is running instead, and makes a sync starting meanwhile stop at once, before any request.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class SyncHoldsLock(Exception):
    """A CLI sync holds the lock file; the message is what to print in parentheses."""


def lock_file_of(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".lock")


@contextmanager
def held_shared(lock_file: Path) -> Iterator[None]:
    """Holds `lock_file` shared, if there is one; SyncHoldsLock while a sync holds it."""
    try:
        fd = os.open(lock_file, os.O_RDONLY)  # never created here: a reader writes nothing
    except OSError:  # no CLI sync ever ran here (or it is unreadable): DuckDB's lock still applies
        fd = None
    if fd is None:
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SyncHoldsLock(f"{lock_file.name} held") from None
        yield
    finally:
        os.close(fd)
