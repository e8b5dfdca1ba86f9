"""`baton-xmatters diff` without a sync: its errors, and that it starts without the orchestrator.

What it prints after real syncs is asserted in test_history.py (a change made through the simulator).
"""

from __future__ import annotations

import fcntl

import duckdb
import pytest

from orchestration.cli import main
from orchestration.publish import migrate_sync_runs
from orchestration.sync_command import sync_lock
from orchestration.sync_lock_reader import held_shared, lock_file_of
from pipelines.xmatters.errors import XmattersError
from tests.held_warehouse import held_open
from tests.orchestration.conftest import heavy_modules_imported_by


def test_diff_imports_neither_dagster_nor_dlt():
    assert heavy_modules_imported_by("orchestration.diff_command") == []


def test_missing_warehouse_is_named(tmp_path, capsys):
    missing = tmp_path / "nowhere.duckdb"
    assert main(["diff", "--warehouse", str(missing)]) == 2
    assert capsys.readouterr().err == (
        f"baton-xmatters: error: --warehouse: no warehouse at {missing} (no sync has run there)\n"
    )
    assert not missing.exists()


def test_a_missing_default_warehouse_does_not_blame_the_flag(tmp_path, capsys, monkeypatch):
    """Without --warehouse, diff said `--warehouse: no warehouse at ...`, naming a flag nobody gave;
    now as `sql` says it: where it looked, and what to do."""
    monkeypatch.setenv("BATON_XMATTERS_HOME", str(tmp_path / "home"))
    expected = tmp_path / "home" / "warehouse.duckdb"
    assert main(["diff"]) == 2
    assert capsys.readouterr().err == (
        f"baton-xmatters: error: no warehouse at {expected} (run a sync first, or give --warehouse)\n"
    )
    assert main(["sql", "SELECT 1"]) == 2
    assert capsys.readouterr().err == (
        f"baton-xmatters: error: no warehouse at {expected} (run a sync first, or give --warehouse)\n"
    )
    assert not (tmp_path / "home").exists()


def test_a_directory_given_as_the_warehouse_is_named(tmp_path, capsys):
    assert main(["diff", "--warehouse", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"baton-xmatters: error: --warehouse: {tmp_path} is a directory; name the DuckDB file, "
        f"e.g. {tmp_path}/warehouse.duckdb\n"
    )


def test_a_warehouse_being_written_is_one_line_naming_the_writer(tmp_path, capsys):
    """A sync writing the warehouse: DuckDB's own line (its lock file, then advice to open it
    read-only, which `diff` already does) was printed after ours; now the writer's PID, and what to do."""
    warehouse = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(warehouse)).close()
    with held_open(warehouse, read_only=False) as writer:
        assert main(["diff", "--warehouse", str(warehouse)]) == 1
    [line] = capsys.readouterr().err.splitlines()
    prefix = (
        f"baton-xmatters: error: the warehouse {warehouse} is being written by another process "
        f"(PID {writer.pid}, "
    )
    assert line.startswith(prefix) and line.endswith("; a sync, most likely): try again when it ends"), line


def test_bad_selections_are_refused(tmp_path, capsys):
    warehouse = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute("CREATE SCHEMA c1")
    migrate_sync_runs(con)
    con.close()
    assert main(["diff", "--warehouse", str(warehouse), "--last", "0"]) == 2
    assert capsys.readouterr().err == "baton-xmatters: error: --last must be >= 1, got 0\n"
    assert main(["diff", "--warehouse", str(warehouse), "--since", "2pXnope"]) == 1
    assert "run one sync to update it" in capsys.readouterr().err  # no history tables yet


def test_a_cli_sync_running_is_named_and_the_warehouse_left_unopened(tmp_path, capsys):
    """A CLI sync holds `<warehouse>.lock` from its start: `diff` opened the warehouse anyway (in
    the sync's first seconds, before DuckDB's own lock; a sync opening it then fails) and later
    named only "another process"; as `sql`, it now names the sync's lock and opens nothing."""
    warehouse = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(warehouse)).close()
    with open(tmp_path / "warehouse.duckdb.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as sync_command.sync_lock holds it
        assert main(["diff", "--warehouse", str(warehouse)]) == 1
    assert capsys.readouterr().err == (
        f"baton-xmatters: error: a sync is running on {warehouse} (warehouse.duckdb.lock held); "
        "try again when it ends\n"
    )


def test_a_sync_starting_while_diff_reads_names_diff(tmp_path):
    """What `diff` holds while it reads (the lock file, shared) stops a CLI sync at once; its line
    named only a `sql` statement."""
    warehouse = tmp_path / "warehouse.duckdb"
    lock_file = lock_file_of(warehouse)
    lock_file.touch()
    with held_shared(lock_file), pytest.raises(XmattersError) as refused, sync_lock(lock_file, warehouse):
        pass
    assert str(refused.value).endswith(
        f"another sync is running against {warehouse} (lock {lock_file}), or baton-xmatters sql or diff "
        "is reading it; try again when it ends"
    )
