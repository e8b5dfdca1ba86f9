"""A staging table built by one SQL file in ranges of raw row ids of bounded bytes (users, groups,
entitlements).

Why: the profiles are `json_object`s (~8 bytes per byte of the names of the rows DuckDB gives it at
once) and the tables were sorted whole: 5,000 groups with 20 KB names failed `c1_staging/groups`
at the run's 256 MB ("Out of Memory Error: failed to allocate data of size 16.0 MiB"), 30,000
people with 10 KB names `c1_staging/users`. The SQL file takes bounds of each source's row ids (a
range on `rowid` is pushed into the table scan, so a statement reads only its rows) and sorts only
its own rows. The first statement creates the table and the others insert into it. An ordinary
tenant is one range of each source, one statement with every bound NULL (the conditions fold to
TRUE): the query as it always was.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import zip_longest
from typing import Any, NamedTuple

import duckdb

from orchestration import sql
from orchestration.key_ranges import KeyRange, key_ranges

# Text bytes of the raw rows one statement is given: its JSON takes ~8 times as much (~64 MB of
# the run's 256 MB), beside the vectors of text themselves.
MAX_RANGE_BYTES = 8 * 2**20

# no range of this source in a statement: rowid > -1 AND rowid <= -1 holds no row
_NONE = KeyRange(-1, -1)


class RangedSource(NamedTuple):
    """Rows a SQL file reads in ranges: `rows` (a table, or a subquery naming `key` and `row_bytes`),
    the SQL of a row's id and of its size, and the prefix of its bounds' parameters in the file."""

    rows: str
    key: str
    row_bytes: str
    prefix: str = ""


def text_bytes(columns: str) -> str:
    """SQL of the bytes of a row's text in `columns` (space-separated), plus 100 for the rest."""
    return " + ".join(f"coalesce(strlen({column}::VARCHAR), 0)" for column in columns.split()) + " + 100"


def stage_in_ranges(
    con: Any, table: str, source: str, row_bytes: str, widest: str, max_bytes: int = MAX_RANGE_BYTES
) -> int:
    """Builds `c1_staging.<table>` from `<table>.sql` over `source` in ranges of `rowid` of at most
    `max_bytes` of `row_bytes` (bounds `$low`/`$high`); returns how many statements it took.

    Out of DuckDB's memory, the error names the widest row's `row_bytes` and what they are
    (`widest`, e.g. "xmatters_raw.groups: target_name, description").
    """

    def widest_rows(con: Any) -> str:
        size = con.execute(f"SELECT max({row_bytes}) - 100 FROM {source}").fetchone()[0]
        return f"building c1_staging.{table} from rows of up to {size or 0:,} bytes ({widest})"

    return build_in_ranges(con, table, [RangedSource(source, "rowid", row_bytes)], widest_rows, max_bytes)


def build_in_ranges(
    con: Any,
    table: str,
    sources: Sequence[RangedSource],
    widest: Callable[[Any], str],
    max_bytes: int = MAX_RANGE_BYTES,
) -> int:
    """Builds `c1_staging.<table>` from `<table>.sql`, each statement given the next range of every
    source (a source whose ranges are all taken gets none); returns how many statements it took.

    Out of DuckDB's memory even so (one row's names alone too large), the error's first line adds
    `widest(con)`, the size of the widest rows and where they are, so the user learns what was too
    big, not only that memory ran out.
    """
    query = sql.load(table)
    create, insert = f"CREATE OR REPLACE TABLE c1_staging.{table} AS", f"INSERT INTO c1_staging.{table}"
    assert query.count(create) == 1, f"{table}.sql holds one {create}"
    ranges = [key_ranges(con, source.rows, source.key, source.row_bytes, max_bytes) for source in sources]
    statements = 0
    for parts in zip_longest(*ranges):
        params: dict[str, Any] = {}
        for source, part in zip(sources, parts, strict=True):
            params.update((part or _NONE).params(source.prefix))
        try:
            con.execute(query if statements == 0 else query.replace(create, insert), params)
        except duckdb.OutOfMemoryException as exc:
            raise duckdb.OutOfMemoryException(f"{str(exc).splitlines()[0]}; {widest(con)}") from None
        statements += 1
    return statements
