"""The CLI's run history commits in WAL mode without waiting for the disk, and a killed process
keeps what it committed; SQLite files elsewhere keep SQLite's defaults."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import dagster as dg
import sqlalchemy as db
from sqlalchemy.pool import NullPool

from orchestration.history_commits import history_without_disk_waits
from orchestration.sync_command import cli_instance, ensure_dagster_home
from tests.orchestration.tiny_job import tiny_job

FULL, NORMAL = 2, 1  # PRAGMA synchronous


def _pragmas(path: Path) -> tuple[int, str]:
    engine = db.create_engine(f"sqlite:///{path}", poolclass=NullPool)
    with engine.connect() as conn:
        synchronous = conn.exec_driver_sql("PRAGMA synchronous").scalar()
        journal = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
    engine.dispose()
    return int(synchronous), str(journal)  # type: ignore[arg-type]


def test_a_new_home_commits_in_wal_without_disk_waits_and_only_meanwhile(tmp_path: Path) -> None:
    home = tmp_path / "dagster"
    ensure_dagster_home(home)
    elsewhere = tmp_path / "elsewhere.db"
    with history_without_disk_waits(home), cli_instance(home) as instance:
        assert tiny_job.execute_in_process(instance=instance).success
        for storage in (instance.event_log_storage, instance._run_storage):
            with storage._engine.connect() as conn:  # type: ignore[attr-defined]
                assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == NORMAL
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert _pragmas(elsewhere) == (FULL, "delete")  # not under the home: SQLite's defaults
    # the context is closed: the same files open with SQLite's default again (still in WAL)
    assert _pragmas(home / "history" / "runs.db") == (FULL, "wal")
    assert _pragmas(home / "history" / "event_log.db") == (FULL, "wal")


def test_a_killed_sync_process_keeps_its_committed_history(tmp_path: Path) -> None:
    """NORMAL in WAL mode waits for no disk, yet what was committed survives the process being
    killed: the UI reads the run, its success and its events."""
    home = tmp_path / "dagster"
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from orchestration.history_commits import history_without_disk_waits
        from orchestration.sync_command import cli_instance, ensure_dagster_home
        from tests.orchestration.tiny_job import tiny_job
        home = Path({str(home)!r})
        ensure_dagster_home(home)
        with history_without_disk_waits(home), cli_instance(home) as instance:
            result = tiny_job.execute_in_process(instance=instance)
            print(result.run_id, len(instance.all_logs(result.run_id)), flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == -9, proc.stderr[-2000:]
    run_id, logged = proc.stdout.split()
    with dg.DagsterInstance.from_config(str(home)) as stock:
        run = stock.get_run_by_id(run_id)
        assert run is not None and run.is_success
        assert len(stock.all_logs(run_id)) == int(logged) > 0
