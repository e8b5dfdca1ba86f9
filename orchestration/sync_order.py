"""Which published sync is the newest: the one published last, not the one the clock dates last.

`c1.sync_runs.published_at` is what the machine's clock said. A scheduled sync runs for months,
and a clock can jump back meanwhile (NTP correcting a clock that ran ahead, a VM restored from a
snapshot, a host booting with a wrong RTC): ordered by that time, a sync published after the jump
sorted before the syncs of the days the clock was ahead. The change history then diffed the wrong
pair (every change reversed), the retention deleted the current sync's snapshot, and the source and
settings of the "last" sync were an older one's. So each published sync gets `publish_number`: 1
for a warehouse's first, then one more for each (assigned in the publish transaction: DuckDB has
one writer). Rows of an earlier version are numbered once, in the order they were inserted.

No Dagster import: the CLI reads the last source before it loads the orchestrator.
"""

from __future__ import annotations

import duckdb

from orchestration.table_schema import column_names

SYNC_RUNS = "c1.sync_runs"
COLUMN = "publish_number"
# The next number, read in the transaction that inserts the row.
NEXT_NUMBER = f"(SELECT coalesce(max({COLUMN}), 0) + 1 FROM {SYNC_RUNS})"
NEWEST_FIRST = f"{COLUMN} DESC NULLS FIRST, rowid DESC"


def newest_first(con: duckdb.DuckDBPyConnection) -> str:
    """The ORDER BY expression listing `c1.sync_runs` newest first.

    Rows without a number go first, by insertion order (`rowid`, what the numbers are made from):
    rows an earlier version added after this one numbered the others, until the next publish numbers
    them. A warehouse no sync of this version has written yet (read-only readers: the CLI's source
    check, `diff`) has no column: its rows go by insertion order.
    """
    return NEWEST_FIRST if COLUMN in column_names(con, "c1", "sync_runs") else "rowid DESC"


def number_earlier_rows(con: duckdb.DuckDBPyConnection) -> None:
    """Adds `publish_number` to an earlier version's `sync_runs` and numbers its rows in the order
    they were inserted (sync_runs only ever gets rows appended). Rows an earlier version added after
    this one numbered the others (a downgrade and back) are numbered after them."""
    con.execute(f"ALTER TABLE {SYNC_RUNS} ADD COLUMN IF NOT EXISTS {COLUMN} BIGINT")
    con.execute(
        f"""UPDATE {SYNC_RUNS} AS r SET {COLUMN} = o.n + (SELECT coalesce(max({COLUMN}), 0) FROM {SYNC_RUNS})
            FROM (SELECT rowid AS row_id, row_number() OVER (ORDER BY rowid) AS n
                  FROM {SYNC_RUNS} WHERE {COLUMN} IS NULL) AS o
            WHERE r.rowid = o.row_id"""
    )
