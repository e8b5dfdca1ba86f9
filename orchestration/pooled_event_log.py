"""The CLI's event log: Dagster's one-file SQLite event log, with one engine for the whole run.

Why: `ConsolidatedSqliteEventLogStorage` builds a new SQLAlchemy engine and opens a new SQLite
connection for every write, and each asset-check event adds a `has_table` probe with an engine of
its own. A CLI sync stores ~110 events (25 of them before its first step, when the run is planned),
so those engines and connections cost ~2 ms an event before any row is written (measured:
docs/benchmarks.md, twelfth round). Here one engine with a small connection pool serves every
write of the process; the rows, the file and its schema are Dagster's own, so the UI and
`dagster dev` read the same file with the stock class.

Only the CLI uses it (`sync_command.cli_instance`), and only for a home whose `dagster.yaml` names
the stock consolidated SQLite event log (what `ensure_dagster_home` writes); any other event log
storage is left as configured.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as db
from dagster._core.storage.event_log.sqlite.consolidated_sqlite_event_log import (
    SQLITE_EVENT_LOG_FILENAME,
    ConsolidatedSqliteEventLogStorage,
)
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS, create_db_conn_string
from dagster._serdes import ConfigurableClassData

STOCK_MODULE = "dagster._core.storage.event_log"
STOCK_CLASS = ConsolidatedSqliteEventLogStorage.__name__


class PooledSqliteEventLogStorage(ConsolidatedSqliteEventLogStorage):
    """`ConsolidatedSqliteEventLogStorage` whose connections come from one engine's pool.

    A pooled connection is idle between writes (SQLAlchemy rolls back on return), so it holds no
    lock and no snapshot: another process (the UI, the daemon) reads and writes the file as
    before. `check_same_thread=False` because the pool hands a connection to whichever thread
    checks it out (the interrupt watcher marks a run canceled from its own thread); the pool never
    gives one connection to two threads at once. `dispose` (the instance's close) closes them.
    """

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        # before the parent's __init__: creating a new file writes through `_connect`
        self._engine = db.create_engine(
            create_db_conn_string(base_dir, SQLITE_EVENT_LOG_FILENAME),
            pool_size=2,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        )
        super().__init__(base_dir, inst_data=inst_data)

    @contextmanager
    def _connect(self) -> Iterator[db.Connection]:
        with self._engine.connect() as conn, conn.begin():
            yield conn

    def has_table(self, table_name: str) -> bool:
        with self._engine.connect() as conn:
            return bool(self._engine.dialect.has_table(conn, table_name))

    def dispose(self) -> None:
        super().dispose()
        self._engine.dispose()


def pooled_override(event_log_config: object) -> dict[str, object] | None:
    """The `event_log_storage` override that swaps in the pooled class, or None when the home's
    config (`dagster.yaml`'s `event_log_storage` section) is not the stock consolidated class."""
    if not isinstance(event_log_config, dict):
        return None
    if (event_log_config.get("module"), event_log_config.get("class")) != (STOCK_MODULE, STOCK_CLASS):
        return None
    return {
        "module": __name__,
        "class": PooledSqliteEventLogStorage.__name__,
        "config": event_log_config.get("config"),
    }
