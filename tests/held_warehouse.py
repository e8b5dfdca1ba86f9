"""A DuckDB file held open by another process, as an analyst's read-only session holds the warehouse:
DuckDB then lets no process in to write it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def held_open(database: Path, *, read_only: bool = True) -> Iterator[subprocess.Popen[str]]:
    """Within the block another process (its `pid` is the holder the errors name) has `database`
    open, read-only (an analyst) or for writing (as a sync); it closes it at the block's end."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == 'r'); "
            "print('open', flush=True); sys.stdin.read()",
            str(database),
            "r" if read_only else "w",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        yield holder
    finally:
        holder.communicate("")
