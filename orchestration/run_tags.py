"""Who started a run, as a run tag the UI shows and filters by: `baton-xmatters/started-by`.

The CLI, the schedule and C1 service mode (`c1`) set it when they launch; a run launched any other
way (the UI's buttons, `dagster asset materialize`, `dagster job execute`) carries no tag of ours,
and is tagged `ui` by its first resource set-up, since Dagster does not say which of its own front
ends launched it.

`baton-xmatters/warehouse` names the DuckDB file a run synced into (its absolute path), so that the
run history's retention (orchestration/run_retention.py) counts and deletes the runs of one
warehouse only when two warehouses share a Dagster home.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import dagster as dg

STARTED_BY = "baton-xmatters/started-by"
WAREHOUSE = "baton-xmatters/warehouse"
CLI = {STARTED_BY: "cli"}
SCHEDULE = {STARTED_BY: "schedule"}
C1 = {STARTED_BY: "c1"}  # a full-sync task of ConductorOne service mode (orchestration/service)
_DAGSTER_SCHEDULE = "dagster/schedule_name"
_DAGSTER_SENSOR = "dagster/sensor_name"


def started_by(tags: Mapping[str, str]) -> str:
    if STARTED_BY in tags:
        return tags[STARTED_BY]
    if _DAGSTER_SCHEDULE in tags:
        return "schedule"
    if _DAGSTER_SENSOR in tags:
        return "sensor"
    return "ui"


def warehouse_tag(database: str) -> str:
    """The tag's value for the warehouse file `database`: its absolute path, symlinks resolved."""
    return os.path.realpath(os.path.expanduser(database))


def tag_run(context: dg.InitResourceContext, database: str | None = None) -> None:
    """Adds the tags a run was launched without (idempotent: the first step's set-up does it)."""
    run = context.dagster_run
    instance = context.instance
    if run is None or instance is None:
        return
    tags = {} if STARTED_BY in run.tags else {STARTED_BY: started_by(run.tags)}
    if database is not None and WAREHOUSE not in run.tags:
        tags[WAREHOUSE] = warehouse_tag(database)
    if tags:
        instance.add_run_tags(run.run_id, tags)
