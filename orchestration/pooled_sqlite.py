"""The CLI's run history: Dagster's SQLite event log and run storage, each through one engine per run.

Why: `ConsolidatedSqliteEventLogStorage` and `SqliteRunStorage` build a new SQLAlchemy engine and
open a new SQLite connection for every read and write (`NullPool`), and each asset-check event adds
a `has_table` probe with an engine of its own. A CLI sync stores ~110 events (25 of them before its
first step, when the run is planned) and makes ~40 run-storage calls, so those engines and
connections cost ~1.5-2 ms a call before any row is read or written (docs/benchmarks.md, twelfth
round). Here one engine with a small connection pool serves every call of the process; the rows,
the files and their schemas are Dagster's own, so the UI and `dagster dev` read them with the
stock classes.

Only the CLI uses them (`sync_command.cli_instance`), and only for a home whose `dagster.yaml` names
the stock consolidated SQLite event log (what `ensure_dagster_home` writes) and leaves the run
storage at Dagster's SQLite default; any other storage is left as configured.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import sqlalchemy as db
import yaml
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.event_log.sqlite.consolidated_sqlite_event_log import (
    SQLITE_EVENT_LOG_FILENAME,
    ConsolidatedSqliteEventLogStorage,
)
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS, create_db_conn_string
from dagster._serdes import ConfigurableClassData

from orchestration.stamped_sqlite import stamped

STOCK_EVENT_LOG = ("dagster._core.storage.event_log", ConsolidatedSqliteEventLogStorage.__name__)
STOCK_RUN_STORAGE = ("dagster._core.storage.runs", SqliteRunStorage.__name__)


def pooled_engine(conn_string: str) -> db.Engine:
    """An engine whose idle connections stay open for the process (`dispose` closes them).

    A pooled connection is idle between calls (SQLAlchemy rolls back on return), so it holds no
    lock and no snapshot: another process (the UI, the daemon) reads and writes the file as
    before. `check_same_thread=False` because the pool hands a connection to whichever thread
    checks it out (the interrupt watcher marks a run canceled from its own thread); the pool never
    gives one connection to two threads at once.
    """
    return db.create_engine(
        conn_string,
        pool_size=2,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
    )


class PooledSqliteEventLogStorage(ConsolidatedSqliteEventLogStorage):
    """`ConsolidatedSqliteEventLogStorage` whose connections come from one engine's pool."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        # before the parent's __init__: creating a new file writes through `_connect`
        self._engine = pooled_engine(create_db_conn_string(base_dir, SQLITE_EVENT_LOG_FILENAME))
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


class PooledSqliteRunStorage(SqliteRunStorage):
    """`SqliteRunStorage` whose connections come from one engine's pool (creating or stamping a
    new file still goes through the parent's `from_local`, as before; an existing stamped one is
    opened without alembic's look at the migration scripts: `orchestration/stamped_sqlite.py`)."""

    def __init__(self, conn_string: str, inst_data: ConfigurableClassData | None = None) -> None:
        super().__init__(conn_string, inst_data)
        self._engine = pooled_engine(conn_string)

    @classmethod
    def from_config_value(  # the parent's names SqliteRunStorage, not cls
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> PooledSqliteRunStorage:
        return cls.from_local(inst_data=inst_data, **config_value)

    @classmethod
    def from_local(
        cls, base_dir: str, inst_data: ConfigurableClassData | None = None
    ) -> PooledSqliteRunStorage:
        # what the parent ends with for a stamped file that has its `instance_info` table
        if stamped(os.path.join(os.path.abspath(base_dir), "runs.db"), tables=("runs", "instance_info")):
            return cls(create_db_conn_string(base_dir, "runs"), inst_data)
        return super().from_local(base_dir, inst_data=inst_data)

    @contextmanager
    def connect(self) -> Iterator[db.Connection]:
        with self._engine.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        super().dispose()
        self._engine.dispose()


def pooled_overrides(dagster_home: str, config: Mapping[str, Any]) -> dict[str, object]:
    """The instance overrides that swap in the pooled classes, for the storages of `config` (the
    home's `dagster.yaml`) that are the stock SQLite ones; empty when none is."""
    overrides: dict[str, object] = {}
    if "storage" in config:  # the newer single `storage:` section: not what this CLI writes
        return overrides
    event_log = config.get("event_log_storage")
    if _names(event_log, STOCK_EVENT_LOG):
        overrides["event_log_storage"] = _pooled(PooledSqliteEventLogStorage, event_log["config"])
    run_storage = config.get("run_storage")
    if run_storage is None:  # Dagster's default: SQLite under the home
        default = InstanceRef.config_defaults(dagster_home)["run_storage"]
        if (default.module_name, default.class_name) == STOCK_RUN_STORAGE:
            overrides["run_storage"] = _pooled(PooledSqliteRunStorage, yaml.safe_load(default.config_yaml))
    elif _names(run_storage, STOCK_RUN_STORAGE):
        overrides["run_storage"] = _pooled(PooledSqliteRunStorage, run_storage["config"])
    return overrides


def _names(section: object, stock: tuple[str, str]) -> bool:
    """A `dagster.yaml` storage section that names the stock class `stock` (module, class)."""
    return (
        isinstance(section, dict)
        and (section.get("module"), section.get("class")) == stock
        and "config" in section
    )


def _pooled(cls: type, config: object) -> dict[str, object]:
    return {"module": __name__, "class": cls.__name__, "config": config}
