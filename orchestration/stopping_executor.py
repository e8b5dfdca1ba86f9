"""The in-process executor of the code location's runs: a Terminated run ends at once, in one line.

Dagster's in-process executor, on a step that failed, logs an error line for every step depending on
it ("Dependencies for step ... were not executed. Not executing.", a dozen after a Terminate in the
first step) and runs on the steps that do not; a run stopped by an interrupt it ends with the
interrupt's stack trace under "Execution of run ... canceled". This executor runs Dagster's and stops
reading its events at the first step that failed with `RunStopped` (`stopped_run.py`): the step's
own line is the run's last word and Dagster ends the run `Canceled` with "Run was canceled. Failed
steps: [<step>]." (failed, not canceled, when the interrupt was not a Terminate).

A Terminate between two steps: Dagster holds its SIGINT and raised it as the next step's body was
called, in Dagster's own code, with Dagster's message. After each step that succeeded, the executor
looks for a held interrupt or a run marked canceling; it takes the held interrupt and has the next
step's body stop before it begins (`stopped_run.stop_the_next_step`), which ends as above.

Uses two private names, kept to this module: `InProcessExecutor` (what `in_process_executor` builds;
only its `execute` is wrapped, and closing its event iterator at a step's failure runs Dagster's own
teardown: resources, log capture, concurrency slots) and `pop_captured_interrupt` (the held SIGINT).
Runs that `execute_in_process` starts (the CLI's) use Dagster's own executor; the CLI keeps Dagster's
SIGINT handler out anyway (`sync_command.signal_handlers_kept_from_dagster`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster._core.executor.in_process import InProcessExecutor  # private: see the module docstring
from dagster._utils.interrupts import pop_captured_interrupt  # private: see the module docstring

from orchestration.stopped_run import RunStopped, stop_the_next_step


class StoppingInProcessExecutor(InProcessExecutor):
    """`InProcessExecutor` whose run ends at a Terminate (see the module docstring)."""

    def execute(self, plan_context: Any, execution_plan: Any) -> Iterator[dg.DagsterEvent]:
        events = super().execute(plan_context, execution_plan)
        stop_the_next_step(False)
        try:
            for event in events:
                yield event
                if event.is_step_failure and event.step_failure_data.error.cls_name == RunStopped.__name__:
                    return  # `finally` closes Dagster's iterator: no other step runs, none is logged
                if event.is_step_success and _stop_requested(plan_context):
                    stop_the_next_step()
        finally:
            events.close()
            stop_the_next_step(False)


def _stop_requested(plan_context: Any) -> bool:
    """A SIGINT is held for the next step (taken here), or a Terminate was asked for (canceling)."""
    if pop_captured_interrupt():
        return True
    run = plan_context.instance.get_run_by_id(plan_context.run_id)
    return run is not None and run.status == dg.DagsterRunStatus.CANCELING


@dg.executor(name="in_process", config_schema=dg.in_process_executor.config_schema)
def stopping_in_process_executor(init_context: dg.InitExecutorContext) -> dg.Executor:
    """`dg.in_process_executor` with the same configuration, ending a Terminated run cleanly."""
    base = dg.in_process_executor.executor_creation_fn(init_context)  # type: ignore[misc]
    return StoppingInProcessExecutor(
        retries=base.retries,
        step_dependency_config=base.step_dependency_config,
        marker_to_close=getattr(base, "marker_to_close", None),
    )
