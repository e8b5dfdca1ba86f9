"""A warehouse file a run created and wrote nothing into is removed when the run ends.

Why: a Dagster run's warehouse connection opens (and so creates) the DuckDB file at set-up, before
the first request (orchestration/resources.py), and dlt's pipeline does so in its first step
(pipelines/xmatters_pipeline.py). A first sync refused with HTTP 401 left a 12 KB database without
a single table, and `baton-xmatters sql` then answered `schema "c1" does not exist` from a file
that looked like the real warehouse, instead of "no warehouse: run a sync first". Only a file this
run created and that holds no schema, table, view or sequence of its own is removed: an earlier
sync's warehouse, or what this run loaded before failing (raw and staged tables, for looking into
a failed check), is never touched.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import duckdb

# Objects of the file itself (not DuckDB's built-in catalog): any one of them is data or schema
# someone wrote, and keeps the file.
_OWN_OBJECTS = """
    SELECT (SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database())
         + (SELECT count(*) FROM duckdb_views() WHERE database_name = current_database() AND NOT internal)
         + (SELECT count(*) FROM duckdb_schemas() WHERE database_name = current_database() AND NOT internal)
         + (SELECT count(*) FROM duckdb_sequences() WHERE database_name = current_database())
"""


def holds_nothing(connection: duckdb.DuckDBPyConnection) -> bool:
    """True when the database of `connection` has no object of its own; False when unsure."""
    try:
        row = connection.execute(_OWN_OBJECTS).fetchone()
    except duckdb.Error:
        return False
    return row is not None and row[0] == 0


def discard_if_unused(database: Path) -> None:
    """Removes `database` when it holds nothing; for a caller that does not hold it open. A file
    that cannot be opened (another process holds it) is left alone."""
    if not database.is_file():
        return
    try:
        with duckdb.connect(str(database), read_only=True) as connection:
            unused = holds_nothing(connection)
    except duckdb.Error:
        return
    if unused:
        remove(database)


def remove(database: Path) -> None:
    """The file and the WAL beside it (a close checkpoints it away; a crash may leave it)."""
    for path in (database, database.with_name(database.name + ".wal")):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
