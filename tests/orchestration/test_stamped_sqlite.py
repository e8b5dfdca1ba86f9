"""An existing Dagster home opens without alembic loading its migration scripts; a new one is still
created and stamped by Dagster's own `from_local` (orchestration/stamped_sqlite.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import dagster as dg
import pytest
from alembic.script import ScriptDirectory
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage

from orchestration.stamped_sqlite import stamped
from orchestration.sync_command import cli_instance, ensure_dagster_home
from tests.orchestration.tiny_job import tiny_job


@pytest.fixture
def script_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every time alembic builds the migration scripts' directory (the real one is still built)."""
    reads: list[str] = []
    build = ScriptDirectory.from_config.__func__  # type: ignore[attr-defined]

    def counted(
        cls: type[ScriptDirectory], config: object, *args: object, **kwargs: object
    ) -> ScriptDirectory:
        reads.append(str(getattr(config, "config_file_name", config)))
        return build(cls, config, *args, **kwargs)

    monkeypatch.setattr(ScriptDirectory, "from_config", classmethod(counted))
    return reads


def test_an_existing_home_opens_without_reading_the_migration_scripts(
    tmp_path: Path, script_reads: list[str]
) -> None:
    home = tmp_path / "dagster"
    ensure_dagster_home(home)
    with cli_instance(home) as instance:  # a new home: Dagster creates and stamps runs.db
        assert tiny_job.execute_in_process(instance=instance).success
    assert script_reads, "a new file is stamped through alembic, as before"
    with dg.DagsterInstance.from_config(str(home)) as stock:  # the UI's instance: every file stamped
        head = stock.run_storage.alembic_version()  # type: ignore[attr-defined]
        assert stock.all_instigator_state() == []
    assert head[0] == head[1]
    script_reads.clear()

    with cli_instance(home) as instance:
        assert [run.job_name for run in instance.get_runs()] == [tiny_job.name]
        assert instance.all_instigator_state() == []  # the schedule file the UI created
        assert tiny_job.execute_in_process(instance=instance).success
        assert len(instance.get_runs()) == 2
        assert script_reads == []
        assert instance.run_storage.alembic_version() == head  # type: ignore[attr-defined]  # reads them


def test_stamped_is_true_only_for_a_stamped_file_with_its_tables(tmp_path: Path) -> None:
    missing = tmp_path / "missing" / "runs.db"
    assert not stamped(str(missing))
    assert not missing.exists()  # never created by the probe

    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    assert not stamped(str(empty))

    not_sqlite = tmp_path / "text.db"
    not_sqlite.write_text("not a database", encoding="utf-8")
    assert not stamped(str(not_sqlite))

    SqliteRunStorage.from_local(str(tmp_path / "history")).dispose()
    runs = tmp_path / "history" / "runs.db"
    assert stamped(str(runs), tables=("runs", "instance_info"))
    assert not stamped(str(runs), tables=("runs", "no_such_table"))
