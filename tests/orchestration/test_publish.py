"""StagedPublish: the `c1` tables change only on commit, all together, or not at all."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from orchestration import publish as publish_module
from orchestration.publish import PUBLISHED_TABLES, StagedPublish

COLUMNS = {
    "users": "user_id VARCHAR, display_name VARCHAR, status VARCHAR",
    "groups": "group_id VARCHAR, display_name VARCHAR",
    "grants": "grant_id VARCHAR, group_id VARCHAR, principal_type VARCHAR, principal_id VARCHAR",
}


def _stage(con: duckdb.DuckDBPyConnection, users: list[str]) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS staging")
    for table in PUBLISHED_TABLES:
        con.execute(f"CREATE OR REPLACE TABLE staging.{table} ({COLUMNS.get(table, 'id VARCHAR')})")
    con.executemany("INSERT INTO staging.users VALUES (?, ?, 'ENABLED')", [[u, u.upper()] for u in users])
    con.execute("INSERT INTO staging.grants VALUES ('g1:u1', 'g1', 'user', 'u1')")


def _publish(con: duckdb.DuckDBPyConnection, sync_id: str) -> None:
    with StagedPublish(con, "staging", sync_id) as publish:
        publish.commit(datetime.now(UTC), {"users": 1, "grants": 1}, "/tmp/sync.c1z", 123)


def _published_users(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [row[0] for row in con.execute("SELECT user_id FROM c1.users ORDER BY 1").fetchall()]


@pytest.fixture
def con(tmp_path):
    connection = duckdb.connect(str(tmp_path / "wh.duckdb"))
    _stage(connection, ["u1"])
    _publish(connection, "sync-1")
    yield connection
    connection.close()


def test_commit_publishes_the_tables_the_run_row_and_the_history_together(con):
    _stage(con, ["u1", "u2"])
    _publish(con, "sync-2")
    assert _published_users(con) == ["u1", "u2"]
    runs = con.execute(
        "SELECT sync_id, users, grants, sync_file_bytes FROM c1.sync_runs ORDER BY 1"
    ).fetchall()
    assert runs == [("sync-1", 1, 1, 123), ("sync-2", 1, 1, 123)]
    history = con.execute("SELECT sync_id, count(*) FROM c1.history_users GROUP BY 1 ORDER BY 1").fetchall()
    assert history == [("sync-1", 1), ("sync-2", 2)]


def test_a_failure_before_commit_changes_nothing(con):
    _stage(con, ["u1", "u2", "u3"])
    with pytest.raises(RuntimeError, match="the .c1z write failed"), StagedPublish(con, "staging", "sync-2"):
        raise RuntimeError("the .c1z write failed")
    assert _published_users(con) == ["u1"]
    assert con.execute("SELECT sync_id FROM c1.sync_runs").fetchall() == [("sync-1",)]
    assert con.execute("SELECT DISTINCT sync_id FROM c1.history_users").fetchall() == [("sync-1",)]


def test_a_failed_copy_is_raised_by_commit_and_changes_nothing(con):
    _stage(con, ["u1", "u2"])
    con.execute("DROP TABLE staging.memberships")
    with pytest.raises(duckdb.CatalogException, match="memberships"):
        _publish(con, "sync-2")
    assert _published_users(con) == ["u1"]
    assert con.execute("SELECT sync_id FROM c1.sync_runs").fetchall() == [("sync-1",)]


def _wal_bytes(con: duckdb.DuckDBPyConnection) -> int:
    query = "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    path = con.execute(query).fetchone()
    assert path is not None
    wal = Path(f"{path[0]}.wal")
    return wal.stat().st_size if wal.exists() else 0


def _stage_through_the_wal(con: duckdb.DuckDBPyConnection, users: int) -> None:
    """Staged tables as a run leaves them: small commits, logged in the WAL, not yet checkpointed."""
    con.execute("SET wal_autocheckpoint = '1GB'")
    _stage(con, ["u"])
    for start in range(0, users, 1_000):
        con.execute(
            "INSERT INTO staging.users SELECT 'u' || range, repeat('x', 200), 'ENABLED' FROM range(?, ?)",
            [start, start + 1_000],
        )


def test_the_wal_is_checkpointed_beside_the_write_before_the_copy_begins(con):
    """The close of the run's connection (after the publish, on the critical path) then only
    checkpoints what the publish wrote, not the load's and the transforms' WAL as well."""
    _stage_through_the_wal(con, 20_000)
    assert _wal_bytes(con) > 4_000_000
    with StagedPublish(con, "staging", "sync-2") as publish:
        publish._thread.join()  # the copy is done (in its transaction): the .c1z write would go on
        assert _wal_bytes(con) == 0
        publish.commit(datetime.now(UTC), {"users": 20_000}, "/tmp/sync.c1z", 123)
    assert con.execute("SELECT count(*) FROM c1.users").fetchone() == (20_001,)
    snapshot = con.execute("SELECT count(*) FROM c1.history_users WHERE sync_id = 'sync-2'").fetchone()
    assert snapshot == (20_001,)


def test_a_refused_checkpoint_is_left_to_the_close_and_the_publish_goes_on(con, caplog):
    """DuckDB refuses a CHECKPOINT while another cursor holds a write transaction: an optimisation lost,
    never a failed sync."""
    _stage_through_the_wal(con, 2_000)
    wal_before = _wal_bytes(con)
    writer = con.cursor()
    writer.execute("CREATE TABLE elsewhere (x INTEGER)")
    writer.execute("BEGIN TRANSACTION")
    writer.execute("INSERT INTO elsewhere VALUES (1)")
    with caplog.at_level(logging.DEBUG, logger="baton_xmatters"):
        _publish(con, "sync-2")
    writer.execute("COMMIT")
    assert "no checkpoint before the copy" in caplog.text
    assert "Cannot CHECKPOINT" in caplog.text
    assert _wal_bytes(con) > wal_before  # nothing was checkpointed: the WAL only grew
    assert len(_published_users(con)) == 2_001


def test_an_unexpected_failure_of_the_checkpoint_fails_the_commit_never_skips_the_copy(con, monkeypatch):
    """The copy thread records it like a failed copy: no `sync_runs` row for tables never copied."""

    def broken(cursor: duckdb.DuckDBPyConnection) -> None:
        raise RuntimeError("not DuckDB's refusal")

    monkeypatch.setattr(publish_module, "checkpoint_before_copy", broken)
    _stage(con, ["u1", "u2"])
    with pytest.raises(RuntimeError, match="not DuckDB's refusal"):
        _publish(con, "sync-2")
    assert _published_users(con) == ["u1"]
    assert con.execute("SELECT sync_id FROM c1.sync_runs").fetchall() == [("sync-1",)]
