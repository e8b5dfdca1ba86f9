"""A staged table read in key order one key range at a time, so no sort holds more than a bounded
number of bytes of its rows.

Why: DuckDB 2.0 cannot spill a sort whose rows hold long strings ("Out of Memory Error: failed to
pin block"). The `.c1z` writer's users query (`ORDER BY user_id` over the profiles) failed that way
for a tenant of 30,000 people with 5 KB names, at the run's 256 MB. The range bounds come from a
window over narrow rows (the key and the row's size); ordinary names make one range, and then the
query is the one it always was (no WHERE).
"""

from __future__ import annotations

from typing import Any

# The most row bytes one range's sort holds (DuckDB's own structures come on top). The publish copy
# runs beside the writer in the same 256 MB: with 32 MB ranges, 30,000 users of 5 KB names still
# failed the write ("failed to pin block"); 8 MB passed (39 ranges, 10 s to read them alone).
MAX_SORTED_BYTES = 8 * 2**20


def key_ranges(
    con: Any, table: str, key: str, row_bytes: str, max_bytes: int = MAX_SORTED_BYTES
) -> list[str]:
    """WHERE conditions that split `table` into ranges of `key` of about `max_bytes` of rows each
    (`row_bytes` is the SQL of a row's size), in key order; `[""]` when one range holds it all.

    A range ends at the last key whose running total stays in its part, so a row larger than
    `max_bytes` is a range of its own. The first range has no lower bound and the last no upper
    one; keys are compared with `>` and `<=`, so every non-NULL key is in exactly one range.
    """
    # the sizes first, in a subquery: a window given `row_bytes` itself holds the columns it reads
    sized = f"SELECT {key}, {row_bytes} AS row_bytes FROM {table}"
    parts = f"(sum(row_bytes) OVER (ORDER BY {key} ROWS UNBOUNDED PRECEDING) - 1) // {max_bytes}"
    query = f"SELECT max({key}) FROM (SELECT {key}, {parts} AS part FROM ({sized})) GROUP BY part ORDER BY 1"
    bounds = [row[0] for row in con.sql(query).fetchall()]
    if len(bounds) <= 1:
        return [""]
    literals = ["'" + str(bound).replace("'", "''") + "'" for bound in bounds[:-1]]
    ranges = [f"{key} <= {literals[0]}"]
    ranges += [
        f"{key} > {low} AND {key} <= {high}" for low, high in zip(literals, literals[1:], strict=False)
    ]
    return [*ranges, f"{key} > {literals[-1]}"]
