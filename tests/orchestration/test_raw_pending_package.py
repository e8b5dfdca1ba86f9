"""The raw assets drop a load package an earlier run left pending, without dagster-dlt's help.

dlt's `Pipeline.run` loads a pending package *instead of* extracting, so a run after one killed in
dlt's load would land the killed run's older snapshot. dagster-dlt drops the pipeline's local state
before each run (`DagsterDltResource._run`), which hid this; the asset must not rest on it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import dagster as dg
import pytest
from dlt.pipeline.pipeline import Pipeline

from orchestration.definitions import build_definitions
from orchestration.resources import SyncSettings, WarehouseResource
from pipelines.xmatters.config import XmattersConfig
from pipelines.xmatters.loader import load_raw, raw_pipeline
from pipelines.xmatters.source import xmatters_source
from simulator import OrgSpec, XmattersSimulator, build_org
from tests.orchestration.conftest import raw_rows

SPEC = OrgSpec(seed=5, people=20, groups=4, members_per_group=3, hidden_people=1, large_groups=0)


def test_the_raw_assets_drop_a_pending_package_without_dagster_dlt(
    data_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """After a sync of org A, a second run's package of A left normalized and not loaded (as a kill
    inside dlt's load leaves it), the org changed to B, dagster-dlt's drop disabled: the run drops
    the package, extracts B, and the raw tables hold exactly B's people, groups and memberships.
    Without the asset's own drop dlt loads A's package instead of extracting and the step fails."""
    org_a = build_org(SPEC)
    person = org_a.people[0]["id"]
    group = next(g["id"] for g in org_a.groups if org_a.members[g["id"]])
    org_b = org_a.with_changes(replace=[person, group])
    database = tmp_path / "wh.duckdb"
    dlt_dir = tmp_path / "dlt"

    drops: list[str] = []

    def kept_drop(self: Pipeline, pipeline_name: str | None = None) -> Pipeline:
        drops.append("drop")
        return self

    def kept_pending(self: Pipeline, with_partial_loads: bool = True) -> None:
        drops.append("drop_pending_packages")

    # what `DagsterDltResource._run` calls before each run (restore_from_destination on or off)
    monkeypatch.setattr(Pipeline, "drop", kept_drop)
    monkeypatch.setattr(Pipeline, "drop_pending_packages", kept_pending)

    with XmattersSimulator(org_a) as sim:
        config = XmattersConfig(base_url=sim.base_url, username=sim.username, password=sim.password)
        # a sync before (with no dataset in the warehouse, dlt wipes the pipeline's folder itself)
        load_raw(config, database, pipelines_dir=dlt_dir)
        pending = raw_pipeline(database, pipelines_dir=dlt_dir)
        pending.extract(xmatters_source(config))
        pending.normalize()
        assert pending.has_pending_data
        left = pending.list_normalized_load_packages()

        sim.serve(org_b)
        monkeypatch.setenv("BATON_BASE_URL", sim.base_url)
        monkeypatch.setenv("BATON_USERNAME", sim.username)
        monkeypatch.setenv("BATON_PASSWORD", sim.password)
        defs = build_definitions(
            {
                "warehouse": WarehouseResource(database=str(database), dlt_pipelines_dir=str(dlt_dir)),
                "sync_settings": SyncSettings(sync_file=str(tmp_path / "sync.c1z")),
            }
        )
        raw_assets = defs.resolve_assets_def(dg.AssetKey(["xmatters_raw", "people"]))
        with dg.instance_for_test() as instance, caplog.at_level(logging.INFO, logger="pipelines"):
            result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
                instance=instance, asset_selection=list(raw_assets.keys)
            )
    assert result.success
    assert drops == ["drop"]  # dagster-dlt still calls it: the patch took its place
    assert not raw_pipeline(database, pipelines_dir=dlt_dir).has_pending_data

    raw = raw_rows(database)
    assert raw["people"] == sorted((p["id"],) for p in org_b.people)
    assert raw["groups"] == sorted((g["id"],) for g in org_b.groups)
    assert raw["members"] == sorted(org_b.person_memberships())
    assert (person,) not in raw["people"] and (org_b.replaced_id(person),) in raw["people"]
    assert (group,) not in raw["groups"] and (org_b.replaced_id(group),) in raw["groups"]

    dropped = [r.getMessage() for r in caplog.records if "pending load package" in r.getMessage()]
    assert dropped == [f"dlt: dropped the pending load package(s) {', '.join(left)} an earlier run left"]
    assert sim.password not in dropped[0]
