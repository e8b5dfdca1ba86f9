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
