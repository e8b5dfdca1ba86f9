"""Who started a run, as a run tag the UI shows and filters by: `baton-xmatters/started-by`.

The CLI, the schedule and C1 service mode (`c1`) set it when they launch; a run launched any other
way (the UI's buttons, `dagster asset materialize`, `dagster job execute`) carries no tag of ours,
and is tagged `ui` by its first resource set-up, since Dagster does not say which of its own front
ends launched it.
"""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg

STARTED_BY = "baton-xmatters/started-by"
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


def tag_run(context: dg.InitResourceContext) -> None:
    """Adds the tag to a run launched without it (idempotent: the first step's set-up does it)."""
    run = context.dagster_run
    instance = context.instance
    if run is None or instance is None or STARTED_BY in run.tags:
        return
    instance.add_run_tags(run.run_id, {STARTED_BY: started_by(run.tags)})
