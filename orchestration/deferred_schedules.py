"""The CLI's schedule storage: Dagster's SQLite one, opened only if a run asks for it.

Why: a Dagster instance builds all three storages up front, and the schedule storage's
`from_local` creates or checks `schedules/schedules.db` there: a SQLAlchemy engine, an inspection
of the tables and alembic's revision check, which loads its ~90 migration scripts (~0.1 s of CPU on
an existing home; on a new one, creating the tables). A CLI sync reads and writes no schedule,
sensor or tick: that storage is the UI's and the daemon's, which open the same file with the
stock class. Here the file is created or checked by that same `from_local` at the first call that
needs it, never when nothing does.

Only the CLI uses it (`sync_command.cli_instance`), and only when the home's `dagster.yaml` leaves the
schedule storage at Dagster's SQLite default (what `ensure_dagster_home` writes).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import sqlalchemy as db
import yaml
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.schedules.sqlite.sqlite_schedule_storage import SqliteScheduleStorage
from dagster._core.storage.sqlite import create_db_conn_string
from dagster._serdes import ConfigurableClassData

from orchestration.stamped_sqlite import stamped

STOCK_SCHEDULE_STORAGE = ("dagster._core.storage.schedules", SqliteScheduleStorage.__name__)


class DeferredSqliteScheduleStorage(SqliteScheduleStorage):
    """`SqliteScheduleStorage` whose database is created or checked at its first connection."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        super().__init__(create_db_conn_string(base_dir, "schedules"), inst_data)
        self._base_dir = base_dir
        self._opened = False
        self._opening = threading.Lock()

    @classmethod
    def from_config_value(  # the parent's opens the file; this one waits for a call
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> DeferredSqliteScheduleStorage:
        return cls(inst_data=inst_data, **config_value)

    def never_created(self) -> bool:
        """No file yet: nothing (the UI, the daemon) ever stored a schedule or sensor state here, and
        a reader of that state (orchestration/alert_backlog.py) need not create it to find none."""
        return not self._opened and not os.path.exists(os.path.join(self._base_dir, "schedules.db"))

    @contextmanager
    def connect(self) -> Iterator[db.Connection]:
        with self._opening:
            if not self._opened:
                # creates and stamps a new file as the stock instance would have; a stamped one
                # is used as it is, as `from_local` would (orchestration/stamped_sqlite.py)
                if not stamped(os.path.join(os.path.abspath(self._base_dir), "schedules.db")):
                    SqliteScheduleStorage.from_local(self._base_dir).dispose()
                self._opened = True
        with super().connect() as conn:
            yield conn


def deferred_overrides(dagster_home: str, config: Mapping[str, Any]) -> dict[str, object]:
    """The instance override that defers the schedule storage when `config` (the home's
    `dagster.yaml`) leaves it at Dagster's SQLite default; empty otherwise."""
    if "storage" in config or config.get("schedule_storage") is not None:
        return {}
    default = InstanceRef.config_defaults(dagster_home)["schedule_storage"]
    if (default.module_name, default.class_name) != STOCK_SCHEDULE_STORAGE:
        return {}
    return {
        "schedule_storage": {
            "module": __name__,
            "class": DeferredSqliteScheduleStorage.__name__,
            "config": yaml.safe_load(default.config_yaml),
        }
    }
