"""A run that materializes some raw tables and not the member rows makes no member call."""

from __future__ import annotations

import dagster as dg
import duckdb

from orchestration.definitions import build_definitions
from orchestration.resources import SyncSettings, WarehouseResource
from tests.orchestration.conftest import use_simulator


def test_materializing_the_groups_alone_lists_them_and_makes_no_member_call(
    simulator, org, data_home, tmp_path, monkeypatch
):
    """The `/groups` listing hands each page to the member-call process as it arrives (so member
    calls start before the listing ends); without `group_members` in the run there is no such
    process, so no calls nobody would read."""
    use_simulator(monkeypatch, simulator)
    database = tmp_path / "wh.duckdb"
    defs = build_definitions(
        {
            "warehouse": WarehouseResource(database=str(database), dlt_pipelines_dir=str(tmp_path / "dlt")),
            "sync_settings": SyncSettings(sync_file=str(tmp_path / "sync.c1z")),
        }
    )
    job = defs.resolve_implicit_global_asset_job_def()
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(
            instance=instance, asset_selection=[dg.AssetKey(["xmatters_raw", "groups"])]
        )
    assert result.success
    paths = [path for _method, path, _status in simulator.requests]
    assert any("/groups?" in path for path in paths)
    assert not [path for path in paths if "/members" in path]
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute("select count(*) from xmatters_raw.groups").fetchall() == [(len(org.groups),)]
