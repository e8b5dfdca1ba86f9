"""A table split into key ranges of a bounded number of bytes of its rows, read one range at a time.

Why: DuckDB 2.0 cannot spill a sort whose rows hold long strings ("Out of Memory Error: failed to
pin block"), and its JSON functions take ~8 bytes per byte of text in the rows of one vector. A
statement given only one range's rows holds only that range's bytes. The bounds come from a window
over narrow rows (the key and the row's size); ordinary tenants make one range, whose condition
folds to TRUE when DuckDB plans it (its parameters are bound before the optimizer), so the query
is the one it always was.

The bounds are bound parameters (`range_condition`), never SQL literals, so a key of any text is
safe. A range on `rowid` is pushed into DuckDB's table scan, which then reads only that range's
vectors: one pass over a table in as many statements as ranges. A range on another key of an
unsorted table makes every statement read every vector holding one of its keys (nearly all).
"""

from __future__ import annotations

from typing import Any, NamedTuple

# The most row bytes one range holds (DuckDB's own structures come on top). The publish copy runs
# beside the writer in the same 256 MB: with 32 MB ranges, 30,000 users of 5 KB names still failed
# the write ("failed to pin block"); 8 MB passed.
MAX_SORTED_BYTES = 8 * 2**20


class KeyRange(NamedTuple):
    """Keys in `(low, high]`; `None` is unbounded on that side."""

    low: Any
    high: Any

    def params(self, prefix: str = "") -> dict[str, Any]:
        """The bounds as the named parameters of `range_condition(key, prefix)`."""
        return {f"{prefix}low": self.low, f"{prefix}high": self.high}


ALL = KeyRange(None, None)


def range_condition(key: str, prefix: str = "") -> str:
    """SQL true for the keys of one `KeyRange`, given its `params(prefix)`; TRUE for `ALL`."""
    low, high = f"${prefix}low", f"${prefix}high"
    return f"({low} IS NULL OR {key} > {low}) AND ({high} IS NULL OR {key} <= {high})"


def key_ranges(
    con: Any, table: str, key: str, row_bytes: str, max_bytes: int = MAX_SORTED_BYTES
) -> list[KeyRange]:
    """Ranges of `key` that split `table` into parts of about `max_bytes` of rows each (`row_bytes`
    is the SQL of a row's size), in key order; `[ALL]` when one range holds it all.

    A range ends at the last key whose running total stays in its part, so a row larger than
    `max_bytes` is a range of its own. The first range has no lower bound and the last no upper
    one; every non-NULL key is in exactly one range.
    """
    # the sizes first, in a subquery: a window given `row_bytes` itself holds the columns it reads
    sized = f"SELECT {key} AS key, {row_bytes} AS row_bytes FROM {table}"
    parts = "(sum(row_bytes) OVER (ORDER BY key ROWS UNBOUNDED PRECEDING) - 1) // $max_bytes"
    query = f"SELECT max(key) FROM (SELECT key, {parts} AS part FROM ({sized})) GROUP BY part ORDER BY 1"
    bounds = [row[0] for row in con.execute(query, {"max_bytes": max_bytes}).fetchall()]
    if len(bounds) <= 1:
        return [ALL]
    highs = bounds[:-1]
    return [KeyRange(low, high) for low, high in zip([None, *highs], [*highs, None], strict=True)]
