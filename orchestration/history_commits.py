"""The CLI's run history commits without waiting for the disk: SQLite WAL with `synchronous=NORMAL`.

Why: Dagster's SQLite storages commit each event in a transaction of its own, and SQLite's default
(`synchronous=FULL`) waits for an `fdatasync` at every commit, on the thread that runs the steps:
~160 per sync on an existing home, ~470 on a new one (creating the three databases runs ~100 DDL
statements, each its own transaction in the rollback journal, which syncs two files per commit),
2-6 ms each on this machine's disk (docs/benchmarks.md, twenty-third round). In WAL mode with
`synchronous=NORMAL` a commit waits for no disk: it survives the process being killed (the write
is in the operating system's cache); only an OS crash or a power loss may roll back the last
commits of the history, and it never corrupts the file (SQLite's documentation of the pragma).
The warehouse and the `.c1z` are not SQLite files: they keep their own syncs.

A new file is put in WAL mode before Dagster creates its tables (Dagster switches it to WAL only
after them), so that no statement of the history ever runs under the rollback journal with
`NORMAL`. Only the SQLite files under the Dagster home, and only while the context is open: the
UI's and `dagster dev`'s processes are not affected.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.pool import Pool


@contextmanager
def history_without_disk_waits(dagster_home: Path) -> Iterator[None]:
    """Every SQLite connection this process opens to a file under `dagster_home` meanwhile, Dagster's
    own (creating a new home) and the pooled ones (orchestration/pooled_sqlite.py), commits in WAL
    mode with `synchronous=NORMAL`."""
    prefix = os.path.join(os.path.realpath(dagster_home), "")

    def on_connect(dbapi_connection: object, _record: object) -> None:
        if not isinstance(dbapi_connection, sqlite3.Connection):
            return
        path = _main_file(dbapi_connection)
        if not path or not os.path.realpath(path).startswith(prefix):
            return
        if os.path.getsize(path) == 0:  # new: WAL before the first table (the mode is kept in the file)
            dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    event.listen(Pool, "connect", on_connect)
    try:
        yield
    finally:
        event.remove(Pool, "connect", on_connect)


def _main_file(connection: sqlite3.Connection) -> str:
    """The path of the connection's main database ('' for an in-memory one)."""
    for _seq, name, file in connection.execute("PRAGMA database_list").fetchall():
        if name == "main":
            return str(file or "")
    return ""
