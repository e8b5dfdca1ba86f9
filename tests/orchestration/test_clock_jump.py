"""The newest published sync is the one published last, whatever the machine's clock said.

A scheduled sync runs for months; meanwhile the clock can jump back (NTP correcting a clock that
ran ahead, a VM restored from a snapshot, a host booting with a wrong RTC). `published_at` records
what the clock said; the order of publishing is `sync_runs.publish_number`.
"""

from __future__ import annotations

import dataclasses
import json

import duckdb

from orchestration import history, sync_order
from orchestration.cli import main
from orchestration.publish import migrate_sync_runs
from orchestration.sync_source import SyncSource, last_source
from tests.conftest import cached_org
from tests.orchestration.test_history import _statuses, _warehouse_with_two_snapshots
from tests.orchestration.test_sync_cli import published, sync_args


def _set_clock_of_every_sync_ahead(warehouse, days: int) -> None:
    """What the warehouse holds when its syncs so far ran on a clock `days` ahead of today's."""
    con = duckdb.connect(str(warehouse))
    try:
        con.execute(f"UPDATE c1.sync_runs SET published_at = published_at + INTERVAL {days} DAY")
        con.execute(f"UPDATE c1.access_changes SET changed_at = changed_at + INTERVAL {days} DAY")
    finally:
        con.close()


def test_a_sync_after_the_clock_jumped_back_is_diffed_against_the_one_before_it(
    simulator, org, org_spec, data_home, tmp_path, capsys
):
    sync_file = tmp_path / "sync.c1z"
    assert main(sync_args(simulator, sync_file)) == 0
    [(first,)] = published(data_home, "SELECT sync_id FROM c1.sync_runs")
    _set_clock_of_every_sync_ahead(data_home / "warehouse.duckdb", days=1)

    changed = cached_org(dataclasses.replace(org_spec, inactive_share=0.4))  # people deactivated
    simulator.serve(changed)
    assert main(sync_args(simulator, sync_file)) == 0
    out = capsys.readouterr().out
    [(second,)] = published(data_home, f"SELECT sync_id FROM c1.sync_runs WHERE sync_id <> '{first}'")

    pairs = published(data_home, "SELECT DISTINCT sync_id, previous_sync_id FROM c1.access_changes")
    assert pairs == [(second, first)]
    before, after = _statuses(org), _statuses(changed)
    deactivated = sum(before[u] == "ACTIVE" and after[u] != "ACTIVE" for u in before.keys() & after.keys())
    activated = sum(before[u] != "ACTIVE" and after[u] == "ACTIVE" for u in before.keys() & after.keys())
    assert deactivated > activated > 0
    counts = dict(published(data_home, "SELECT change, count(*) FROM c1.access_changes GROUP BY 1"))
    assert (counts["user_deactivated"], counts["user_activated"]) == (deactivated, activated)
    assert f"{deactivated} users deactivated" in out

    assert main(["diff", "-o", "json"]) == 0
    [entry] = json.loads(capsys.readouterr().out)
    assert (entry["sync_id"], entry["previous_sync_id"]) == (second, first)
    newest = published(data_home, "SELECT sync_id FROM c1.recent_changes LIMIT 1")
    assert newest == [(second,)]


def _three_syncs_the_last_on_an_earlier_clock() -> duckdb.DuckDBPyConnection:
    """s1 and s2 of tenant a (s2 a day later, numbered as an upgrade numbers them), then s3 of
    tenant b published as a sync publishes, with the clock two days back."""
    con = _warehouse_with_two_snapshots((("https://a/api/xm/1", "x"), ("https://a/api/xm/1", "x")))
    migrate_sync_runs(con)
    con.execute(
        "INSERT INTO c1.history_users SELECT 's3', user_id, display_name, status FROM c1.history_users"
    )
    con.execute(
        "INSERT INTO c1.sync_runs (sync_id, published_at, source_url, source_account, publish_number) "
        "SELECT 's3', min(published_at) - INTERVAL 1 DAY, 'https://b/api/xm/1', 'y', "
        f"{sync_order.NEXT_NUMBER} FROM c1.sync_runs"
    )
    return con


def test_the_source_of_the_sync_published_last_is_the_warehouses_source():
    con = _three_syncs_the_last_on_an_earlier_clock()
    assert last_source(con) == SyncSource("https://b/api/xm/1", "y")


def test_retention_keeps_the_sync_published_last_whatever_its_clock():
    con = _three_syncs_the_last_on_an_earlier_clock()
    history.apply_retention(con, 2)
    kept = con.execute("SELECT DISTINCT sync_id FROM c1.history_users ORDER BY 1").fetchall()
    assert kept == [("s2",), ("s3",)]


def test_an_earlier_versions_syncs_are_numbered_in_the_order_they_were_published():
    """Rows without publish_number (an earlier version's) get numbers by insertion, not by clock;
    one an earlier version adds after that (a downgrade and back) comes after them."""
    con = duckdb.connect()
    con.execute("CREATE SCHEMA c1")
    con.execute("CREATE TABLE c1.sync_runs (sync_id VARCHAR PRIMARY KEY, published_at TIMESTAMP)")
    con.execute(
        "INSERT INTO c1.sync_runs VALUES ('a', '2026-03-01'), ('b', '2026-01-01'), ('c', '2026-02-01')"
    )
    migrate_sync_runs(con)
    con.execute("INSERT INTO c1.sync_runs (sync_id, published_at) VALUES ('d', '2025-01-01')")
    migrate_sync_runs(con)
    numbered = con.execute("SELECT sync_id, publish_number FROM c1.sync_runs ORDER BY publish_number")
    assert numbered.fetchall() == [("a", 1), ("b", 2), ("c", 3), ("d", 4)]
    newest = con.execute(f"SELECT sync_id FROM c1.sync_runs ORDER BY {sync_order.newest_first(con)} LIMIT 1")
    assert newest.fetchall() == [("d",)]
