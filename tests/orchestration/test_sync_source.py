"""One warehouse, one source: a sync of another tenant (base URL) is refused unless --new-source;
another account of the same tenant (an API key after a password) is the same source."""

from __future__ import annotations

import dataclasses
import hashlib

import dagster as dg
import duckdb
import pytest

from orchestration.cli import main
from orchestration.definitions import build_definitions
from orchestration.jobs import SYNC_JOB_NAME
from orchestration.resources import SyncSettings, WarehouseResource
from orchestration.run_outcome import summarize_run
from orchestration.sync_source import normalize_base_url
from tests.orchestration.test_sync_cli import published, sync_args

ERROR = "baton-xmatters: error: "


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("https://Company.XMatters.com/api/xm/1/", "https://company.xmatters.com/api/xm/1"),
        ("HTTPS://company.xmatters.com:443/api/xm/1", "https://company.xmatters.com/api/xm/1"),
        ("https://company.xmatters.com:8443/api/xm/1", "https://company.xmatters.com:8443/api/xm/1"),
        ("http://127.0.0.1:80/api/xm/1", "http://127.0.0.1/api/xm/1"),
        ("http://[::1]:8089/api/xm/1", "http://[::1]:8089/api/xm/1"),
    ],
)
def test_one_tenant_spelled_differently_is_one_source(url, normalized):
    assert normalize_base_url(url) == normalized


def test_another_source_is_refused_before_any_request_and_nothing_is_written(
    synced_once, make_simulator, data_home, tmp_path, capsys
):
    simulator, sync_file = synced_once, tmp_path / "sync.c1z"  # a first sync of simulator done
    warehouse = data_home / "warehouse.duckdb"
    before = (_digest(warehouse), warehouse.stat().st_mtime_ns, _digest(sync_file))
    other = make_simulator(username="bob")
    capsys.readouterr()
    code = main([*sync_args(other, sync_file)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == [
        f"{ERROR}the warehouse {warehouse} holds syncs of {simulator.base_url} (account sim-user); this sync "
        f"reads {other.base_url} (account bob): use --new-source to start a new history there, or "
        "--warehouse for another file"
    ]
    assert other.request_count == 0
    assert (_digest(warehouse), warehouse.stat().st_mtime_ns, _digest(sync_file)) == before

    # a trailing slash does not make another tenant
    assert main(["--base-url", simulator.base_url + "/", *sync_args(simulator, sync_file)[2:]]) == 0


def test_the_same_tenant_read_with_an_api_key_is_the_same_source(synced_once, data_home, tmp_path, capsys):
    """A user+password sync, then the same tenant's API key: was refused as another source (exit 2,
    `--new-source` needed, which would also have restarted the history and the drop check)."""
    simulator, sync_file = synced_once, tmp_path / "sync.c1z"  # the user+password sync done
    api_key = ["--username", simulator.api_key_id, "--password", simulator.api_key_secret]
    assert main(["--base-url", simulator.base_url + "/", *api_key, "-f", str(sync_file)]) == 0
    out = capsys.readouterr().out
    assert "changes        no access changes" in out  # the history goes on: compared with the first sync
    runs = published(data_home, "SELECT source_url, source_account FROM c1.sync_runs ORDER BY published_at")
    assert runs == [(simulator.base_url, "sim-user"), (simulator.base_url, simulator.api_key_id)]
    assert main(["diff"]) == 0
    diff = capsys.readouterr().out
    assert diff.startswith("sync ") and " of http" not in diff.splitlines()[0]  # not "of a new source"
    assert "since " in diff.splitlines()[0]
    # and back to the user name: the same source again, no flag needed
    assert main(sync_args(simulator, sync_file)) == 0


def test_new_source_starts_a_new_history_and_a_new_drop_baseline(
    synced_once, org_spec, make_simulator, data_home, tmp_path, capsys
):
    simulator, sync_file = synced_once, tmp_path / "sync.c1z"  # a first sync of simulator done
    # a far smaller tenant: against the old one this would be a 90% drop (blocked at 50%)
    small = make_simulator(spec=dataclasses.replace(org_spec, people=10, hidden_people=0, large_groups=0))
    capsys.readouterr()
    assert main([*sync_args(small, sync_file), "--new-source"]) == 0
    out = capsys.readouterr().out
    assert "changes        first sync of a new source (new baseline for change history)" in out
    runs = published(data_home, "SELECT source_url, source_account FROM c1.sync_runs ORDER BY published_at")
    assert runs == [(simulator.base_url, "sim-user"), (small.base_url, "sim-user")]
    assert published(data_home, "SELECT count(*) FROM c1.access_changes") == [(0,)]

    # from now on the new source is the warehouse's: it syncs without the flag, the old one is refused
    assert main(sync_args(small, sync_file)) == 0
    assert "changes        no access changes" in capsys.readouterr().out
    assert main(sync_args(simulator, sync_file)) == 2
    assert f"holds syncs of {small.base_url} (account sim-user)" in capsys.readouterr().err


def test_a_ui_run_of_another_source_fails_before_any_request(
    synced_once, make_simulator, data_home, tmp_path, monkeypatch
):
    simulator, sync_file = synced_once, tmp_path / "sync.c1z"  # a first sync of simulator done
    warehouse = data_home / "warehouse.duckdb"
    other = make_simulator()
    monkeypatch.setenv("BATON_BASE_URL", other.base_url)
    monkeypatch.setenv("BATON_USERNAME", other.username)
    monkeypatch.setenv("BATON_PASSWORD", other.password)
    defs = build_definitions(
        {
            "warehouse": WarehouseResource(database=str(warehouse), dlt_pipelines_dir=str(data_home / "dlt")),
            "sync_settings": SyncSettings(sync_file=str(sync_file)),
        }
    )
    tables_before = published(data_home, "SELECT count(*) FROM xmatters_raw.people")
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def(SYNC_JOB_NAME).execute_in_process(
            instance=instance, raise_on_error=False
        )
    outcome = summarize_run(result)
    assert not outcome.success
    assert outcome.error == (
        f"the warehouse {warehouse} holds syncs of {simulator.base_url} (account sim-user); this sync reads "
        f"{other.base_url} (account sim-user): set new_source: true in the sync_settings resource config "
        "(launchpad) to start a new history there, or use another warehouse"
    )
    assert other.request_count == 0
    assert published(data_home, "SELECT count(*) FROM c1.sync_runs") == [(1,)]
    assert published(data_home, "SELECT count(*) FROM xmatters_raw.people") == tables_before


def test_a_warehouse_of_the_previous_version_still_syncs(synced_once, org, data_home, tmp_path, capsys):
    """sync_runs without source columns, access_changes without times and names: migrated in place."""
    simulator, sync_file = synced_once, tmp_path / "sync.c1z"  # a first sync of simulator done
    group, leaver = next(
        (g, m["member"]["id"])
        for g in org.groups[1:]
        for m in org.members[g["id"]]
        if m["member"]["recipientType"] == "PERSON"
    )
    simulator.serve(org.with_changes(remove_members=[(group["id"], leaver)]))
    assert main(sync_args(simulator, sync_file)) == 0
    con = duckdb.connect(str(data_home / "warehouse.duckdb"))
    try:  # back to the previous version's tables
        for column in ("source_url", "source_account"):
            con.execute(f"ALTER TABLE c1.sync_runs DROP COLUMN {column}")
        for column in ("changed_at", "group_name", "principal_type", "principal_name"):
            con.execute(f"ALTER TABLE c1.access_changes DROP COLUMN {column}")
        for view in ("group_access", "recent_changes"):
            con.execute(f"DROP VIEW c1.{view}")
    finally:
        con.close()
    assert main(["diff"]) == 1
    assert "written by an earlier version: run one sync to update it" in capsys.readouterr().err

    assert main(sync_args(simulator, sync_file)) == 0
    runs = published(data_home, "SELECT source_url FROM c1.sync_runs ORDER BY published_at")
    assert runs == [(None,), (None,), (simulator.base_url,)]
    # the old rows were recomputed with their time and names
    rows = published(
        data_home,
        "SELECT change, principal_id, principal_name IS NOT NULL, group_name, changed_at IS NOT NULL "
        "FROM c1.recent_changes",
    )
    groups = dict(published(data_home, "SELECT group_id, display_name FROM c1.groups"))
    assert rows == [("grant_removed", leaver, True, groups[group["id"]], True)]
    # and the next sync of another source is refused now that the source is known
    capsys.readouterr()
    assert main(["--base-url", "http://127.0.0.1:9/api/xm/1", *sync_args(simulator, sync_file)[2:]]) == 2
