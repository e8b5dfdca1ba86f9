"""Wiring only: assets, checks, the job, the schedule, alert sensors and resources of the code location.

`build_definitions` is called by the code location (`orchestration/definitions.py`, with the default
resources) and by the CLI (with its own), each once: the CLI imports this module, not the code
location, whose module-level `defs` would be a second build (~0.17 s of every sync's start-up).
Nothing here reads credentials: the code location names the variables that hold them, read by a run.
"""

from __future__ import annotations

import dagster as dg
from dagster_dlt import DagsterDltResource

from orchestration.assets.access_changes import c1_access_changes
from orchestration.assets.c1_tables import staging_assets
from orchestration.assets.raw import build_raw_assets
from orchestration.assets.sync_file import c1_sync
from orchestration.checks.per_table import table_checks
from orchestration.deployment_variables import asset_owner, owner_error
from orchestration.jobs import xmatters_sync_job
from orchestration.paths import data_paths, default_sync_file
from orchestration.resource_settings import from_environment
from orchestration.resources import (
    SYNC_SETTINGS,
    XMATTERS,
    ExpectationsResource,
    SyncSettings,
    WarehouseResource,
    XmattersResource,
)
from orchestration.schedules import build_schedule
from orchestration.sensors import alert_sensors
from orchestration.stopping_executor import stopping_in_process_executor
from pipelines.xmatters.config import XmattersConfig


def default_resources() -> dict[str, object]:
    paths = data_paths()
    return {
        "dlt": DagsterDltResource(),
        # base URL, user and password from BATON_* variables; the password from nothing else
        XMATTERS: from_environment(XMATTERS, XmattersResource, XmattersConfig),
        "warehouse": WarehouseResource(
            database=str(paths.warehouse), dlt_pipelines_dir=str(paths.dlt_pipelines)
        ),
        SYNC_SETTINGS: SyncSettings(sync_file=str(default_sync_file())),
        "expectations": ExpectationsResource(),
    }


def asset_owners() -> list[str]:
    """Who answers for the assets (an e-mail or `team:<name>`), shown on every asset in the UI."""
    return [asset_owner()]


def build_definitions(resources: dict[str, object] | None = None) -> dg.Definitions:
    merged = {**default_resources(), **(resources or {})}
    owners = asset_owners()
    assets = [
        build_raw_assets(),
        *staging_assets,
        c1_sync,
        c1_access_changes,
    ]
    try:
        owned = [a.map_asset_specs(lambda spec: spec.replace_attributes(owners=owners)) for a in assets]
    except dg.DagsterInvalidDefinitionError:  # named here: the CLI loads these definitions too
        raise owner_error(owners[0]) from None
    return dg.Definitions(
        assets=owned,
        asset_checks=table_checks,
        jobs=[xmatters_sync_job],
        schedules=[build_schedule()],
        sensors=alert_sensors,
        resources=merged,
        # Every run, not only the sync job's: the UI's "Materialize all" and an asset's own page
        # launch the implicit asset job, whose default multiprocess executor would put each step
        # in its own process, fighting over DuckDB's single-writer lock.
        # It is Dagster's in-process executor that ends a Terminated run at once (stopping_executor.py).
        executor=stopping_in_process_executor,
    )
