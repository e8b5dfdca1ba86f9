"""A staging table built by one SQL file in ranges of raw row ids of bounded bytes (groups, entitlements).

Why: the group profile is a `json_object` (~8 bytes per byte of the names of the rows DuckDB gives
it at once) and both tables were sorted whole: 5,000 groups with 20 KB names failed
`c1_staging/groups` at the run's 256 MB ("Out of Memory Error: failed to allocate data of size
16.0 MiB"). The SQL file takes `$low`/`$high` bounds of its source table's `rowid` (a range is
pushed into the table scan, so a statement reads only its rows) and sorts only its own rows. The
first statement creates the table and the others insert into it. An ordinary tenant is one range,
one statement with both bounds NULL (the conditions fold to TRUE): the query as it always was.
`orchestration/staged_users.py` does the same for users, whose SQL reads two raw tables.
"""

from __future__ import annotations

from typing import Any

import duckdb

from orchestration import sql
from orchestration.key_ranges import key_ranges
from orchestration.staged_users import MAX_RANGE_BYTES


def text_bytes(columns: str) -> str:
    """SQL of the bytes of a row's text in `columns` (space-separated), plus 100 for the rest."""
    return " + ".join(f"coalesce(strlen({column}::VARCHAR), 0)" for column in columns.split()) + " + 100"


def stage_in_ranges(
    con: Any, table: str, source: str, row_bytes: str, widest: str, max_bytes: int = MAX_RANGE_BYTES
) -> int:
    """Builds `c1_staging.<table>` from `<table>.sql` over `source` in ranges of `rowid` of at most
    `max_bytes` of `row_bytes`; returns how many statements it took.

    Out of DuckDB's memory even so, the error's first line adds the widest row's `row_bytes` and
    what they are (`widest`, e.g. "target_name, description of xmatters_raw.groups"), so the user
    learns what was too big, not only that memory ran out.
    """
    query = sql.load(table)
    create, insert = f"CREATE OR REPLACE TABLE c1_staging.{table} AS", f"INSERT INTO c1_staging.{table}"
    assert query.count(create) == 1, f"{table}.sql holds one {create}"
    ranges = key_ranges(con, source, "rowid", row_bytes, max_bytes)
    for index, part in enumerate(ranges):
        try:
            con.execute(query if index == 0 else query.replace(create, insert), part.params())
        except duckdb.OutOfMemoryException as exc:
            size = con.execute(f"SELECT max({row_bytes}) - 100 FROM {source}").fetchone()[0]
            raise duckdb.OutOfMemoryException(
                f"{str(exc).splitlines()[0]}; building c1_staging.{table} from rows of up to "
                f"{size or 0:,} bytes ({widest})"
            ) from None
    return len(ranges)
