"""The run history's retention at the end of every run, a failed one too (orchestration/run_retention.py).

A sync prunes in its last step, `c1_access_changes`, which a failed run never reaches: failed runs of
the UI, the schedule or a re-execution were deleted only at the next CLI sync or the next sync that
published, so a schedule failing for weeks (the password expired, xMatters down) with no CLI run
beside it added a run every time and deleted none. The CLI prunes after its own failed runs
(`sync_command.prune_after_failure`); every run of the code location now does so in the teardown of
its `sync_settings` resource, which every step uses: reached at the end of every run, whichever step
failed, and by a run refused in the warehouse's set-up (resources are set up in key order,
`sync_settings` before `warehouse`, and torn down when a later one fails).

Same rules as after a sync, on the warehouse the run recorded (`baton-xmatters/warehouse`, tagged by
its warehouse's set-up): a run that never got that far wrote nothing and prunes nothing. The run
itself is still running then (STARTED), like any run another process executes, queued or starting:
only finished runs go, so it is kept, and counted among the newest N runs that published nothing
from the next run on. A run whose `c1_access_changes` pruned already does not prune again.
"""

from __future__ import annotations

import dagster as dg

from orchestration import run_retention
from orchestration.run_warehouse import WAREHOUSE


def prune_at_run_end(context: dg.InitResourceContext, keep_syncs: int) -> None:
    """Prunes the run history of the warehouse this run recorded; logs what went, or one warning."""
    from orchestration.checks.per_table import table_checks  # imports the resources: not at load

    run, instance = context.dagster_run, context.instance
    if run is None or instance is None:
        return
    try:
        stored = instance.get_run_by_id(run.run_id)  # with the tags added since launch
    except Exception as exc:  # any storage's error: a run's end never fails on its history
        context.log.warning(f"old Dagster runs were not deleted ({type(exc).__name__}: {exc})")
        return
    warehouse = (stored.tags if stored is not None else run.tags).get(WAREHOUSE)
    if warehouse is None:
        return
    checks = [key for checks in table_checks for key in checks.check_keys]
    pruned, warning = run_retention.prune_or_warn(instance, keep_syncs, checks, warehouse=warehouse)
    if warning is not None:
        context.log.warning(warning)
    elif pruned is not None and (pruned.deleted or pruned.reclaimed or pruned.leftover_files):
        context.log.info(f"run history: {pruned.summary()}")
