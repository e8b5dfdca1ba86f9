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
C1_TASK = "baton-xmatters/c1-task"  # that task's id: the run page says which C1 task it was
C1_UPLOAD = "c1-upload:"  # `c1.sync_runs.sync_file` of a task's sync: `c1-upload:<task id>`
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


def c1_task(task_id: str) -> dict[str, str]:
    """The tags of the sync of C1 task `task_id` (orchestration/service/child.py)."""
    return {**C1, C1_TASK: task_id}


def recorded_sync_file(tags: Mapping[str, str], path: str) -> str:
    """What `c1.sync_runs.sync_file` records for a sync written to `path` by a run with `tags`.

    A C1 task's `.c1z` is a temporary file, uploaded to C1 as the task's asset and then deleted:
    its path would point an analyst at nothing, so the row names the upload, `c1-upload:<task id>`
    (docs/warehouse.md). Any other run (a re-execution of a task's run too) wrote `path` to keep.
    """
    if started_by(tags) == C1[STARTED_BY] and tags.get(C1_TASK):
        return C1_UPLOAD + tags[C1_TASK]
    return path


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
