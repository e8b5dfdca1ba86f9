"""Which warehouse a run used, as a run tag (`baton-xmatters/warehouse`), and the re-execution it forbids.

A re-execution (the run page's Re-execute, tag `dagster/parent_run_id`) runs in the code location,
on the code location's warehouse. "From failure" skips the steps its parent finished, so its steps
read what those left in the warehouse, and the publish gate reads the parent's check results from
the shared run history. A parent that ran on another warehouse file (a CLI run with its own
`--warehouse`, or another `BATON_XMATTERS_HOME`) left nothing in this one: the steps would read this
warehouse's staged tables, older or another tenant's, and could publish them as checked.

The rule is the simplest safe one: a re-execution whose parent recorded another warehouse fails in
its first resource set-up, before the warehouse is opened, "Re-execute all" too (a new full run,
the UI's "Materialize all", does the same work without a parent). Every run records the resolved
path of its own warehouse at its first set-up (the CLI also at launch, so a run that fails before it
has it); a re-execution inherits its parent's tags, so its own is compared with the parent's record,
then replaced. A parent without the tag (recorded before this check, or one that never set up the
warehouse, so it wrote nothing there) is not refused. A path is no secret; no credential is tagged.

A refused run is tagged with this warehouse too: it ran against it (failed there), and the run
history's retention counts and deletes runs by that tag (orchestration/run_retention.py); with the
parent's tag kept, only the other warehouse's syncs ever deleted it. Its steps ran nothing, so the
warehouse the steps it skipped left their tables in is still the parent's: it is kept as a second
tag, `baton-xmatters/parent-warehouse`, and a re-execution of the refused run compares with that one
(Dagster's "From failure" of it skips what its own parent skipped, whatever this run did).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import dagster as dg

from pipelines.xmatters.errors import XmattersError

WAREHOUSE = "baton-xmatters/warehouse"
# on a refused re-execution only: the warehouse holding the tables of the steps it skipped
PARENT_WAREHOUSE = "baton-xmatters/parent-warehouse"
_DAGSTER_PARENT_RUN = "dagster/parent_run_id"


def warehouse_path(database: str | Path) -> str:
    """The tag's value for the warehouse file `database`: its absolute path, symlinks resolved (the
    run history's retention, orchestration/run_retention.py, also counts each warehouse's runs by it)."""
    return str(Path(database).expanduser().resolve())


def warehouse_tag(database: str | Path) -> dict[str, str]:
    return {WAREHOUSE: warehouse_path(database)}


def other_warehouse_message(parent_run_id: str, parent: str, own: str) -> str:
    return (
        f"this run re-executes run {parent_run_id[:8]}, which ran on the warehouse {parent}, but this "
        f"code location's warehouse is {own}: the steps it skips left their tables in the other one; "
        "re-execute it from a UI started on that run's data home (BATON_XMATTERS_HOME), or launch a "
        "new full run (Materialize all)"
    )


def check_and_tag(context: dg.InitResourceContext, database: Path) -> None:
    """Raises XmattersError when this run re-executes a run of another warehouse; else tags this
    run with its warehouse (idempotent: every step's set-up checks, the first tags)."""
    run = context.dagster_run
    instance = context.instance
    if run is None or instance is None:
        return
    own = warehouse_path(database)
    parent_run_id = run.tags.get(_DAGSTER_PARENT_RUN)
    if parent_run_id is not None:
        parent = instance.get_run_by_id(parent_run_id)
        # the parent's own record; its tags inherited here stand in when the parent is gone
        recorded = steps_warehouse(parent.tags if parent is not None else run.tags)
        if recorded is not None and recorded != own:
            # tagged before it fails: the retention of the warehouse it ran against deletes it
            instance.add_run_tags(run.run_id, {WAREHOUSE: own, PARENT_WAREHOUSE: recorded})
            raise XmattersError(other_warehouse_message(parent_run_id, recorded, own))
    if run.tags.get(WAREHOUSE) != own:
        instance.add_run_tags(run.run_id, {WAREHOUSE: own})


def steps_warehouse(tags: Mapping[str, str]) -> str | None:
    """The warehouse holding the tables of a run with `tags`: a refused re-execution's parent's
    (it ran no step), any other run's own; None for a run recorded before the tags."""
    return tags.get(PARENT_WAREHOUSE) or tags.get(WAREHOUSE)
