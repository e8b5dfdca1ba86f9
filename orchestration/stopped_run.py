"""A run of the code location stopped by the UI's Terminate: one clear line, then nothing.

Dagster terminates a run of the code location by marking it canceling and sending its run worker
SIGINT, whose handler raises `DagsterExecutionInterruptedError` in the step, wherever it is. The step's
failure then read `dagster._core.errors.DagsterExecutionInterruptedError` over a stack trace of wherever
that was (DuckDB, dlt, the `.c1z` writer), and nothing said what became of the data. Each step's body
runs inside `reported_if_stopped`, which turns the interrupt (or an error raised while handling it,
as dlt's extract raises one) into `RunStopped`, a `dagster.Failure`:
its description (which step, what was published, what was kept) and metadata head the step's
failure in the UI (and are the `run_failed` alert's message when a signal from elsewhere, not a
Terminate, stopped the run, which Dagster then marks failed).

A `Failure` alone would let Dagster run on the steps that do not depend on the stopped one, and log
an error line for each step that depends on it. The run's executor (`stopping_executor.py`) ends the
run at that failure instead. A Terminate that lands between two steps, where no code of ours runs,
the executor sees after the step that finished (`stop_the_next_step`): the next step's body then
stops at once, with the same line naming it, before it does anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import dagster as dg

_BY_THE_USER = (dg.DagsterRunStatus.CANCELING, dg.DagsterRunStatus.CANCELED)


class RunStopped(dg.Failure):
    """The step was interrupted; its description says where and what was kept."""


# Set by the run's executor when an interrupt arrived between two steps; one run per process.
_NEXT_STEP = {"stops": False}


def stop_the_next_step(stops: bool = True) -> None:
    """The next step's body stops before it begins (`reported_if_stopped`); `False` clears it."""
    _NEXT_STEP["stops"] = stops


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
    if _NEXT_STEP["stops"]:  # the Terminate came between this step and the one before
        _NEXT_STEP["stops"] = False
        raise stopped(context.op_execution_context, sync_file, stop)
    try:
        yield stop
    except BaseException as error:
        if not interrupted(error):
            raise
        raise stopped(context.op_execution_context, sync_file, stop) from None


def interrupted(error: BaseException) -> bool:
    """Whether `error` is Dagster's interrupt or was raised while handling it: dlt's extract wraps an
    interrupt landing in its pipe (`PipelineStepFailed` over "generator already executing" over it)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, dg.DagsterExecutionInterruptedError):  # what Dagster's SIGINT handler raises
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def stopped(op_context: dg.OpExecutionContext, sync_file: str, stop: Stop) -> RunStopped:
    step = op_context.op.name
    who = stopped_by(op_context.instance, op_context.run_id)
    return RunStopped(
        description=f"Run {who} during step {step}: {kept(sync_file, stop.published)}; "
        "the steps after it did not run.",
        metadata={
            "step": dg.MetadataValue.text(step),
            "published": dg.MetadataValue.text(stop.published or "nothing"),
            "sync file": dg.MetadataValue.path(sync_file),
        },
        allow_retries=False,
    )


def stopped_by(instance: dg.DagsterInstance, run_id: str) -> str:
    """ "stopped by the user (Terminate)" when the run was marked canceling, else "interrupted"."""
    run = instance.get_run_by_id(run_id)
    by_the_user = run is not None and run.status in _BY_THE_USER
    return "stopped by the user (Terminate)" if by_the_user else "interrupted"


def kept(sync_file: str, published: str | None) -> str:
    """What became of the data: nothing published (all kept), or the sync published whole first."""
    if published is None:
        return f"nothing was published; the previous {sync_file} and c1 tables are kept"
    return f"{published} was published first ({sync_file} and the c1 tables, together)"
