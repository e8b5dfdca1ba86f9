"""The CLI's instance writes its event log through one pooled engine, into Dagster's own file."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from sqlalchemy import event

from orchestration.pooled_event_log import PooledSqliteEventLogStorage
from orchestration.sync_command import cli_instance, ensure_dagster_home


@dg.op
def noop() -> int:
    return 1


@dg.job
def tiny_job() -> None:
    noop()


def test_cli_instance_pools_the_event_log_and_the_ui_reads_it(tmp_path: Path) -> None:
    home = tmp_path / "dagster"
    ensure_dagster_home(home)
    with cli_instance(home) as instance:
        storage = instance.event_log_storage
        assert isinstance(storage, PooledSqliteEventLogStorage)
        connects: list[object] = []
        event.listen(storage._engine, "connect", lambda *args: connects.append(args))
        result = tiny_job.execute_in_process(instance=instance)
        assert result.success
        for index in range(20):
            instance.report_engine_event(f"event {index}", result.dagster_run)
        # one SQLite connection per thread that wrote, not one per event (there were 30+)
        assert len(connects) <= 2
        written = [entry.message for entry in instance.all_logs(result.run_id)]
    # what the UI and `dagster dev` open: the stock class over the same file
    with dg.DagsterInstance.from_config(str(home)) as stock:
        assert type(stock.event_log_storage).__name__ == "ConsolidatedSqliteEventLogStorage"
        read = [entry.message for entry in stock.all_logs(result.run_id)]
        assert read == written
        assert [m for m in read if m.startswith("event ")] == [f"event {i}" for i in range(20)]
        assert stock.get_run_by_id(result.run_id).is_success  # type: ignore[union-attr]


def test_another_event_log_storage_is_left_as_configured(tmp_path: Path) -> None:
    home = tmp_path / "dagster"
    home.mkdir()
    # no event_log_storage section: Dagster's default, one SQLite file per run
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    with cli_instance(home) as instance:
        assert type(instance.event_log_storage).__name__ == "SqliteEventLogStorage"
        assert instance.compute_log_manager.__class__.__name__ == "NoOpComputeLogManager"
