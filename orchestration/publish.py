"""Publishing the audited `c1` tables: copied in a transaction while the `.c1z` is written.

Copying the staging tables into `c1` and snapshotting them into the history is DuckDB work that
runs without the GIL, while the `.c1z` write is Python-bound: done one after the other they added
up (7 s of publish after 21 s of writing at a million memberships). So the copy runs on its own
cursor and thread, inside a transaction that stays open until the `.c1z` is written; only then is
the `sync_runs` row added and the transaction committed. If the write fails, the transaction is
rolled back and the previously published tables never change.

Before its transaction begins, the same thread checkpoints the warehouse (`checkpoint_before_copy`):
the load and the transforms left a WAL of ~30 MB at scale M (auto-checkpoints do not run while the
run's cursors hold transactions), which closing the run's connection checkpointed after the publish,
on the critical path. Here it is written beside the `.c1z` write, and the close only checkpoints
what the publish wrote.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from types import TracebackType

import duckdb

from orchestration import history, sync_order
from orchestration.sync_source import SOURCE_COLUMNS, SyncSource
from orchestration.table_schema import column_names

log = logging.getLogger("baton_xmatters")

PUBLISHED = "c1"
PUBLISHED_TABLES = ["users", "groups", "entitlements", "grants", "memberships", "user_emails"]

_SYNC_RUNS_DDL = f"""CREATE TABLE IF NOT EXISTS {PUBLISHED}.sync_runs (
    sync_id VARCHAR PRIMARY KEY, started_at TIMESTAMP, published_at TIMESTAMP,
    users BIGINT, groups BIGINT, entitlements BIGINT, grants BIGINT,
    sync_file VARCHAR, sync_file_bytes BIGINT, source_url VARCHAR, source_account VARCHAR)"""
_SYNC_RUNS_COLUMNS = (
    "sync_id, started_at, published_at, users, groups, entitlements, grants, sync_file, sync_file_bytes, "
    "source_url, source_account, expand_nested_groups, publish_number"
)
# The settings a published sync was made with that change what its tables hold, so a later sync's
# checks can tell a setting's effect from a change in xMatters (the drop check: grants to nested
# groups go when --expand-nested-groups is turned off). NULL in rows of earlier versions: unknown.
SETTING_COLUMNS = {"expand_nested_groups": "BOOLEAN"}


def migrate_sync_runs(con: duckdb.DuckDBPyConnection) -> None:
    """Creates `sync_runs`, or adds the source and setting columns to one from an earlier version
    (their old rows keep NULL: source unknown, so the first sync after the upgrade is never refused;
    setting unknown, so no check reads it as changed) and numbers its rows (`sync_order`)."""
    con.execute(_SYNC_RUNS_DDL)
    for column, sql_type in (SOURCE_COLUMNS | SETTING_COLUMNS).items():
        con.execute(f"ALTER TABLE {PUBLISHED}.sync_runs ADD COLUMN IF NOT EXISTS {column} {sql_type}")
    sync_order.number_earlier_rows(con)


class StagedPublish:
    """The `c1` tables of sync `sync_id`, copied from `staging` in a transaction not yet committed.

    Use as a context manager: entering starts the copy on a thread; `commit` waits for it and
    publishes; leaving without `commit` (an exception) rolls everything back.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, staging: str, sync_id: str) -> None:
        self._cursor = con.cursor()  # its own transaction; the .c1z writer reads on other cursors
        self._staging = staging
        self._sync_id = sync_id
        self._error: BaseException | None = None
        self._in_transaction = False
        self._committed = False
        self._thread = threading.Thread(target=self._copy, name="publish-copy", daemon=True)

    def __enter__(self) -> StagedPublish:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._thread.join()
        try:
            if self._in_transaction and not self._committed:
                self._cursor.execute("ROLLBACK")
        finally:
            self._cursor.close()

    def commit(
        self,
        started: datetime,
        counts: dict[str, int],
        path: str,
        size: int,
        source: SyncSource | None = None,
        *,
        expand_nested_groups: bool | None = None,
    ) -> None:
        """Waits for the copy, records the run, its source and settings in `sync_runs` and commits:
        the tables go live together."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        self._cursor.execute(
            f"INSERT INTO {PUBLISHED}.sync_runs ({_SYNC_RUNS_COLUMNS}) "
            f"VALUES ({', '.join('?' * 12)}, {sync_order.NEXT_NUMBER})",
            [
                self._sync_id,
                started.replace(tzinfo=None),
                datetime.now(UTC).replace(tzinfo=None),
                counts.get("users", 0),
                counts.get("groups", 0),
                counts.get("entitlements", 0),
                counts.get("grants", 0),
                path,
                size,
                source.url if source else None,
                source.account if source else None,
                expand_nested_groups,
            ],
        )
        self._cursor.execute("COMMIT")
        self._committed = True

    def _copy(self) -> None:
        try:
            # inside the try: anything but DuckDB's refusal fails the commit, never skips the copy
            checkpoint_before_copy(self._cursor)
            self._cursor.execute("BEGIN TRANSACTION")
            self._in_transaction = True
            self._cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {PUBLISHED}")
            for table in PUBLISHED_TABLES:
                self._cursor.execute(
                    f"CREATE OR REPLACE TABLE {PUBLISHED}.{table} AS SELECT * FROM {self._staging}.{table}"
                )
            migrate_sync_runs(self._cursor)
            history.record_snapshot(self._cursor, self._sync_id)
        except BaseException as exc:  # re-raised by commit(), on the asset's thread
            self._error = exc


def last_published_setting(con: duckdb.DuckDBPyConnection, column: str) -> bool | None:
    """A setting (`SETTING_COLUMNS`) of the newest published sync; None before the first one or
    when that sync recorded none (an earlier version)."""
    if column not in SETTING_COLUMNS or column not in column_names(con, PUBLISHED, "sync_runs"):
        return None
    rows = con.execute(
        f"SELECT {column} FROM {PUBLISHED}.sync_runs ORDER BY {sync_order.newest_first(con)} LIMIT 1"
    ).fetchall()
    return rows[0][0] if rows else None


def checkpoint_before_copy(cursor: duckdb.DuckDBPyConnection) -> None:
    """Writes the WAL into the database file, if DuckDB can now; an optimisation, never an error.

    DuckDB checkpoints beside the `.c1z` writer's reads (they go on meanwhile) but refuses while
    another cursor holds a write transaction ("Cannot CHECKPOINT"); then the checkpoint is left to
    the connection's close, as without this. An interrupt ends the process mid-checkpoint safely:
    DuckDB replaces the file's header last and replays the WAL on the next open.
    """
    started = time.perf_counter()
    try:
        cursor.execute("CHECKPOINT")
    except duckdb.Error as exc:
        log.debug("publish: no checkpoint before the copy (%s)", exc)
        return
    log.debug("publish: checkpoint before the copy took %.2f s", time.perf_counter() - started)
