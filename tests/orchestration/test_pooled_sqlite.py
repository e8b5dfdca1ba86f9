"""The CLI's instance keeps one pooled engine per SQLite storage, writing Dagster's own files."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
from sqlalchemy import event

from orchestration.pooled_sqlite import PooledSqliteEventLogStorage, PooledSqliteRunStorage
from orchestration.sync_command import cli_instance, ensure_dagster_home
from tests.orchestration.tiny_job import tiny_job


def test_cli_instance_pools_its_storages_and_the_ui_reads_them(tmp_path: Path) -> None:
    home = tmp_path / "dagster"
    ensure_dagster_home(home)
    with cli_instance(home) as instance:
        events, runs = instance.event_log_storage, instance._run_storage
        assert isinstance(events, PooledSqliteEventLogStorage)
        assert isinstance(runs, PooledSqliteRunStorage)
        connects: list[str] = []
        event.listen(events._engine, "connect", lambda *args: connects.append("events"))
        event.listen(runs._engine, "connect", lambda *args: connects.append("runs"))
        result = tiny_job.execute_in_process(instance=instance)
        assert result.success
        for index in range(20):
            instance.report_engine_event(f"event {index}", result.dagster_run)
            assert instance.get_run_by_id(result.run_id) is not None
        # one SQLite connection per thread that used it, not one per call (there were 60+)
        assert connects.count("events") <= 2 and connects.count("runs") <= 2
        written = [entry.message for entry in instance.all_logs(result.run_id)]
    # what the UI and `dagster dev` open: the stock classes over the same files
    with dg.DagsterInstance.from_config(str(home)) as stock:
        assert type(stock.event_log_storage).__name__ == "ConsolidatedSqliteEventLogStorage"
        assert type(stock._run_storage).__name__ == "SqliteRunStorage"
        read = [entry.message for entry in stock.all_logs(result.run_id)]
        assert read == written
        assert [m for m in read if m.startswith("event ")] == [f"event {i}" for i in range(20)]
        assert stock.get_run_by_id(result.run_id).is_success  # type: ignore[union-attr]


def test_other_storages_are_left_as_configured(tmp_path: Path) -> None:
    home = tmp_path / "dagster"
    home.mkdir()
    # no storage sections: Dagster's default event log (one SQLite file per run) is not pooled
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    with cli_instance(home) as instance:
        assert type(instance.event_log_storage).__name__ == "SqliteEventLogStorage"
        assert isinstance(instance._run_storage, PooledSqliteRunStorage)
        assert instance.compute_log_manager.__class__.__name__ == "NoOpComputeLogManager"
    # a run storage section naming its class another way: left alone
    (home / "dagster.yaml").write_text(
        "run_storage:\n  module: dagster._core.storage.runs.sqlite\n  class: SqliteRunStorage\n"
        f"  config:\n    base_dir: {json.dumps(str(tmp_path / 'runs'))}\n",
        encoding="utf-8",
    )
    with cli_instance(home) as instance:
        assert type(instance._run_storage).__name__ == "SqliteRunStorage"


def test_a_moved_or_copied_home_logs_into_itself(tmp_path: Path) -> None:
    """dagster.yaml names its event log by absolute path: a home moved (a restored backup, a volume
    mounted elsewhere) or copied kept writing run events into the old place, recreated if gone, and
    the UI showed its runs without logs. The file we wrote follows its home; one edited is kept."""
    old = tmp_path / "old" / "dagster"
    ensure_dagster_home(old)
    with cli_instance(old) as instance:
        first = tiny_job.execute_in_process(instance=instance).run_id
    moved = tmp_path / "moved" / "dagster"
    moved.parent.mkdir()
    old.rename(moved)
    ensure_dagster_home(moved)
    with cli_instance(moved) as instance:
        second = tiny_job.execute_in_process(instance=instance).run_id
    assert not old.exists()
    with dg.DagsterInstance.from_config(str(moved)) as stock:
        assert stock.all_logs(first) and stock.all_logs(second)  # both runs' events, in the moved home

    edited = tmp_path / "edited"
    ensure_dagster_home(edited)
    custom = (
        (edited / "dagster.yaml")
        .read_text(encoding="utf-8")
        .replace("max_concurrent_runs: 1", "max_concurrent_runs: 2")
    )
    (edited / "dagster.yaml").write_text(custom, encoding="utf-8")
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "dagster.yaml").write_text(custom, encoding="utf-8")
    ensure_dagster_home(copy)
    assert (copy / "dagster.yaml").read_text(encoding="utf-8") == custom  # not ours any more: left alone
