"""What is checked about the output files before the first request, so a careless path costs nothing.

A sync that fails on its output after a full extract wastes the extract, and worse, DuckDB or the
writer may touch the file on the way (`chmod 600`, a `.pending` left beside it). Each check names the
flag and the path and says what to do instead.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import duckdb

from pipelines.c1z.container import V1_MAGIC, V3_MAGIC
from pipelines.duckdb_lock import lock_holder
from pipelines.xmatters.errors import XmattersError

DUCKDB_MAGIC = b"DUCK"  # bytes 8-11 of every DuckDB database file (its main header)
C1Z_MAGIC = os.path.commonprefix([V1_MAGIC, V3_MAGIC])  # b"C1Z": every .c1z container


def check_sync_file(path: Path, warehouse: Path | None = None, label: str = "-f/--file") -> None:
    """`-f` must name a file: a directory (or a link to one) cannot be replaced by the new `.c1z`,
    and anything else but a regular file must not be: the `.c1z` is renamed over the path, so
    `-f /dev/null` as root replaced the device node itself with the sync file. An existing file is
    replaced only when it is a `.c1z` (or empty), as `--warehouse` only opens a DuckDB database:
    `-f var/warehouse.duckdb` replaced the warehouse, its whole history, with the sync file.
    `label` names what gave the path: `BATON_FILE` when the variable did."""
    if warehouse is not None and path == warehouse:
        other = (  # never the path at fault itself
            f"--warehouse {path.parent}/warehouse.duckdb"
            if path.name == "sync.c1z"
            else f"{path.parent}/sync.c1z"
        )
        raise XmattersError(
            f"{label} and --warehouse both name {path}; the .c1z would replace the warehouse: "
            f"name another file, e.g. {other}"
        )
    if path.is_dir():
        raise XmattersError(
            f"{label}: {path} is a directory; name the .c1z file to write, e.g. {path}/sync.c1z"
        )
    if path.exists() and not path.is_file():
        raise XmattersError(
            f"{label}: {path} is not a regular file ({_file_kind(path)}) and would be replaced by the "
            f".c1z; name the .c1z file to write, e.g. {path.parent}/sync.c1z"
        )
    if path.is_file() and path.stat().st_size > 0:
        try:
            with open(path, "rb") as handle:
                header = handle.read(len(C1Z_MAGIC))
        except OSError as exc:
            raise XmattersError(f"{label}: cannot read {path}: {exc.strerror}") from None
        if header != C1Z_MAGIC:
            raise XmattersError(
                f"{label}: {path} exists and is not a .c1z file (left as it is); name the .c1z file "
                f"to write, e.g. {path.parent}/sync.c1z"
            )


def _file_kind(path: Path) -> str:
    mode = path.stat().st_mode
    for test, kind in (
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "not a file"


def check_warehouse_file(path: Path) -> None:
    """`--warehouse` must be a DuckDB database or not exist yet (then the sync creates it)."""
    if (directory := warehouse_directory_message(path)) is not None:
        raise XmattersError(directory)
    if not path.exists() or path.stat().st_size == 0:
        return
    try:
        with open(path, "rb") as handle:
            header = handle.read(12)
    except OSError as exc:
        raise XmattersError(f"--warehouse: cannot read {path}: {exc.strerror}") from None
    if header[8:12] != DUCKDB_MAGIC:
        raise XmattersError(f"--warehouse: not a DuckDB database: {path} (left as it is)")


def warehouse_directory_message(path: Path) -> str | None:
    """What to say when `--warehouse` names a directory (the data home, not the file in it)."""
    if not path.is_dir():
        return None
    return f"--warehouse: {path} is a directory; name the DuckDB file, e.g. {path}/warehouse.duckdb"


def check_warehouse_unlocked(path: Path) -> None:
    """No other process may hold the warehouse open: DuckDB allows one writer and no reader beside it.

    Asked once by opening the file for writing (and closing it at once), before the first request:
    without it, an analyst's open session made the sync fail after its whole extract.
    """
    if not path.exists():
        return
    try:
        duckdb.connect(str(path)).close()
    except duckdb.Error as exc:
        held = warehouse_held_message(path, exc)
        if held is None:
            raise XmattersError(f"--warehouse: cannot open {path}: {exc}") from None
        raise XmattersError(held) from None


def warehouse_held_message(path: Path, exc: duckdb.Error) -> str | None:
    """What to say when opening the warehouse failed because another process holds it; else None.

    Also a run of the code location (the UI, the schedule) opening it: DuckDB's own message
    suggests opening the file read-only, which a sync cannot.
    """
    holder = lock_holder(exc)
    if holder is None:
        return None
    return (
        f"the warehouse {path} is open in another process (PID {holder.pid}, {holder.program}): "
        "DuckDB allows no other session while a sync writes; close that session (or query with "
        "`baton-xmatters sql`, which holds the file only while a statement runs) and sync again"
    )
