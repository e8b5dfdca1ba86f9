"""Compare two `.c1z` files row by row: the check that a writer change kept its output identical.

Why: a change to the writer (pipelines/c1z/) meant to be faster must not change what C1 reads, and
the files' own bytes cannot tell (zstd's output, page layout and the run's times differ from one
write to the next). So both databases are decompressed and every table is compared row by row in
rowid order, every column, the protobuf `data` blobs byte for byte. The columns that record when
the write ran (`discovered_at`, `started_at`, `ended_at`) are left out unless `--with-times`;
for a byte-for-byte comparison of the rest, write both files from one warehouse with the same
`sync_id` and `started_at` (`bench/c1z_write_warehouse.py` does).

`python bench/c1z_compare.py OLD.c1z NEW.c1z [--with-times] [--without-sync-id]` (two syncs'
files have two ids): prints one line per table and the first differing rows (a differing blob is
decoded with its message type); exit 0 when identical.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

from pipelines.c1z.container import decompress_to_file
from pipelines.c1z.proto import pb

TIME_COLUMNS = frozenset({"discovered_at", "started_at", "ended_at"})
# the message each table's `data` column holds (`expansion` is a GrantExpandable)
MESSAGES = {
    "v1_resource_types": pb.ResourceType,
    "v1_resources": pb.Resource,
    "v1_entitlements": pb.Entitlement,
    "v1_grants": pb.Grant,
}
SHOWN = 5  # differing rows shown per table


def _tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute("select name from sqlite_master where type = 'table' order by name").fetchall()
    return [name for (name,) in rows]


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"pragma table_info({table})")]


def _rows(conn: sqlite3.Connection, table: str, columns: list[str]) -> Iterator[tuple[object, ...]]:
    listed = ", ".join(["rowid", *columns])
    yield from conn.execute(f"select {listed} from {table} order by rowid")


def _describe(table: str, column: str, value: object) -> str:
    """A differing value; a protobuf blob decoded, so the field that changed can be seen."""
    message = (
        MESSAGES.get(table) if column == "data" else pb.GrantExpandable if column == "expansion" else None
    )
    if message is not None and isinstance(value, bytes):
        decoded = message()
        decoded.ParseFromString(value)
        return f"{len(value)} bytes: {decoded}".replace("\n", " ")[:400]
    return repr(value)[:400]


def compare(
    old: sqlite3.Connection,
    new: sqlite3.Connection,
    *,
    with_times: bool = False,
    ignored: frozenset[str] = frozenset(),
) -> list[str]:
    """Lines describing every difference between the two databases (empty: identical), leaving out
    the `ignored` columns."""
    problems: list[str] = []
    tables = _tables(old)
    if tables != _tables(new):
        return [f"tables differ: {tables} against {_tables(new)}"]
    for table in tables:
        columns = _columns(old, table)
        if columns != _columns(new, table):
            problems.append(f"{table}: columns differ: {columns} against {_columns(new, table)}")
            continue
        compared = [c for c in columns if (with_times or c not in TIME_COLUMNS) and c not in ignored]
        differing = rows = 0
        old_rows, new_rows = _rows(old, table, compared), _rows(new, table, compared)
        for old_row, new_row in zip(old_rows, new_rows, strict=False):
            rows += 1
            if old_row == new_row:
                continue
            differing += 1
            if differing <= SHOWN:
                for name, a, b in zip(["rowid", *compared], old_row, new_row, strict=True):
                    if a != b:
                        problems.append(
                            f"{table} rowid {old_row[0]} {name}: {_describe(table, name, a)} "
                            f"!= {_describe(table, name, b)}"
                        )
        extra_old, extra_new = sum(1 for _ in old_rows), sum(1 for _ in new_rows)
        if extra_old or extra_new:
            problems.append(f"{table}: {rows + extra_old} rows against {rows + extra_new}")
        if differing:
            problems.append(f"{table}: {differing} of {rows} rows differ")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--with-times", action="store_true", help="also compare the write's own times")
    parser.add_argument(
        "--without-sync-id", action="store_true", help="leave out sync_id (two syncs' files: two ids)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch, ExitStack() as stack:
        connections = []
        for name, path in (("old", args.old), ("new", args.new)):
            database = Path(scratch) / f"{name}.db"
            with database.open("wb") as out:
                decompress_to_file(path, out)
            conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
            stack.callback(conn.close)
            connections.append(conn)
        ignored = frozenset({"sync_id"} if args.without_sync_id else ())
        problems = compare(*connections, with_times=args.with_times, ignored=ignored)
        for table in _tables(connections[0]):
            (count,) = connections[0].execute(f"select count(*) from {table}").fetchone()
            print(f"{table}: {count} rows")
    for line in problems:
        print(line)
    print("identical" if not problems else f"DIFFERENT ({len(problems)} lines above)")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
