"""The CLI's instance opens the schedule database only when a call needs it; the UI's stock
instance creates and reads the same file."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from orchestration.deferred_schedules import DeferredSqliteScheduleStorage
from orchestration.sync_command import cli_instance, ensure_dagster_home
from tests.orchestration.tiny_job import tiny_job


def test_a_run_opens_no_schedule_database_and_a_call_that_needs_one_opens_the_stock_file(
    tmp_path: Path,
) -> None:
    home = tmp_path / "dagster"
    ensure_dagster_home(home)
    with cli_instance(home) as instance:
        assert isinstance(instance.schedule_storage, DeferredSqliteScheduleStorage)
        assert tiny_job.execute_in_process(instance=instance).success
        assert not (home / "schedules").exists()  # nothing was created or checked for the run
        assert instance.all_instigator_state() == []  # a call that needs the file creates it
        assert (home / "schedules" / "schedules.db").is_file()
        deferred_version = instance.schedule_storage.alembic_version()  # type: ignore[attr-defined]
    with dg.DagsterInstance.from_config(str(home)) as stock:
        assert type(stock.schedule_storage).__name__ == "SqliteScheduleStorage"
        assert stock.schedule_storage.alembic_version() == deferred_version  # type: ignore[union-attr]
        assert deferred_version[0] == deferred_version[1]  # stamped at head, as the stock class does
    # an existing file: the deferred storage reads it as it is
    with cli_instance(home) as instance:
        assert instance.all_instigator_state() == []
        assert instance.schedule_storage.alembic_version() == deferred_version  # type: ignore[attr-defined]


def test_a_configured_schedule_storage_is_left_as_configured(tmp_path: Path) -> None:
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        "schedule_storage:\n  module: dagster._core.storage.schedules\n  class: SqliteScheduleStorage\n"
        f"  config:\n    base_dir: {tmp_path / 'elsewhere'}\n",
        encoding="utf-8",
    )
    with cli_instance(home) as instance:
        assert type(instance.schedule_storage).__name__ == "SqliteScheduleStorage"
        assert (tmp_path / "elsewhere" / "schedules.db").is_file()
