"""Who started a run, as a run tag the UI shows and filters by: `baton-xmatters/started-by`.

The CLI, the schedule and C1 service mode (`c1`) set it when they launch; a run launched any other
way (the UI's buttons, `dagster asset materialize`, `dagster job execute`) carries no tag of ours,
and is tagged `ui` by its first resource set-up, since Dagster does not say which of its own front
ends launched it. A re-execution (the run page's Re-execute) inherits its parent's tags, ours too: it
runs in the code location, launched from the UI, and is tagged `ui` whatever its parent's says.
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
_DAGSTER_PARENT_RUN = "dagster/parent_run_id"  # set on every re-execution


def started_by(tags: Mapping[str, str]) -> str:
    if _DAGSTER_PARENT_RUN in tags:
        return "ui"
    if STARTED_BY in tags:
        return tags[STARTED_BY]
    if _DAGSTER_SCHEDULE in tags:
        return "schedule"
    if _DAGSTER_SENSOR in tags:
        return "sensor"
    return "ui"


def tag_run(context: dg.InitResourceContext) -> None:
    """Adds the tag to a run launched without it, or corrects the one a re-execution inherited
    (idempotent: the first step's set-up does it)."""
    run = context.dagster_run
    instance = context.instance
    if run is None or instance is None:
        return
    wanted = started_by(run.tags)
    if run.tags.get(STARTED_BY) != wanted:
        instance.add_run_tags(run.run_id, {STARTED_BY: wanted})


def named_by_flags(tags: Mapping[str, str]) -> bool:
    """Whether messages of a run with `tags` name settings by their CLI flags (`--max-drop`): a run of
    the command line (the CLI, the demo, C1 service mode) took them as flags; any other run (the UI's,
    the schedule's, a re-execution of a CLI run) as the code location's config fields."""
    return tags.get(STARTED_BY) in (CLI[STARTED_BY], C1[STARTED_BY]) and _DAGSTER_PARENT_RUN not in tags
