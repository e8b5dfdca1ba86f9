"""A run of the code location stopped by the UI's Terminate: one clear line on its step, then nothing.

Dagster terminates a run by marking it canceling and sending its run worker SIGINT, whose handler
raises `DagsterExecutionInterruptedError` in the step, wherever it is. The step's failure then read
`dagster._core.errors.DagsterExecutionInterruptedError` over a stack trace of wherever that was (DuckDB,
dlt, the `.c1z` writer), and nothing said what became of the data. Each step's body runs inside
`reported_if_stopped`, which turns the interrupt into `RunStopped`, a `dagster.Failure`: its
description (which step, what was published, what was kept) and metadata head the step's failure
in the UI (and are the `run_failed` alert's message when a signal from elsewhere, not a
Terminate, stopped the run, which Dagster then marks failed).

A `Failure` alone would let Dagster run on the steps that do not depend on the stopped one (the
other staging tables and their checks); the job's failure hook `stop_the_run` raises the interrupt
again right after the step, outside it, so the run ends `Canceled` as before, the later steps not
executed. Every asset carries the hook (so "Materialize all", the implicit job, has it too) and so
does the job `xmatters_sync` (for the checks' steps: a multi-asset check takes no hooks). Where a
step has no hook (a check in another job) the interrupt is left as Dagster's, which stops the run.
An interrupt that lands between two steps, in Dagster's own code, keeps Dagster's message too: no
code of ours runs there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import dagster as dg
from dagster._core.errors import DagsterExecutionInterruptedError  # what Dagster's SIGINT handler raises

_BY_THE_USER = (dg.DagsterRunStatus.CANCELING, dg.DagsterRunStatus.CANCELED)


class RunStopped(dg.Failure):
    """The step was interrupted; its description says where and what was kept."""


@dataclass
class Stop:
    """What was done when the step stopped: `published` names the sync once it is in place
    (`c1_sync` sets "sync <id>" after the rename; `c1_access_changes` runs after it: "this run's sync")."""

    published: str | None = None


@contextmanager
def reported_if_stopped(
    context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext,
    sync_file: str,
    *,
    published: str | None = None,
) -> Iterator[Stop]:
    """Within the block, Dagster's interrupt becomes `RunStopped` (see the module docstring)."""
    stop = Stop(published)
    try:
        yield stop
    except DagsterExecutionInterruptedError:
        op_context = context.op_execution_context
        if stop_the_run not in (op_context.job_def.get_all_hooks_for_handle(op_context.op_handle) or ()):
            raise
        raise stopped(op_context, sync_file, stop) from None


def stopped(op_context: dg.OpExecutionContext, sync_file: str, stop: Stop) -> RunStopped:
    step = op_context.op.name
    run = op_context.instance.get_run_by_id(op_context.run_id)
    by_the_user = run is not None and run.status in _BY_THE_USER
    who = "stopped by the user (Terminate)" if by_the_user else "interrupted"
    if stop.published is None:
        kept = f"nothing was published; the previous {sync_file} and c1 tables are kept"
    else:
        kept = f"{stop.published} was published first ({sync_file} and the c1 tables, together)"
    return RunStopped(
        description=f"Run {who} during step {step}: {kept}; the steps after it did not run.",
        metadata={
            "step": dg.MetadataValue.text(step),
            "published": dg.MetadataValue.text(stop.published or "nothing"),
            "sync file": dg.MetadataValue.path(sync_file),
        },
        allow_retries=False,
    )


@dg.failure_hook(name="stop_the_run")
def stop_the_run(context: dg.HookContext) -> None:
    """After a step that `RunStopped` failed, the interrupt again: Dagster ends the run there."""
    if isinstance(context.op_exception, RunStopped):
        raise DagsterExecutionInterruptedError(context.op_exception.description)
