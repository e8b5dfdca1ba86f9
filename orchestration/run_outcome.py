"""Reads a finished run into what the CLI prints: counts, warnings, the file, or a one-line cause."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from orchestration import metadata_keys as keys
from orchestration.shortened import left_out_lines, shortened_lines
from pipelines.xmatters.report import kept_without_members


@dataclass
class RunOutcome:
    success: bool
    error: str | None = None
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)  # asset key -> plain metadata
    warnings: list[str] = field(default_factory=list)

    def value(self, asset: str, key: str, default: Any = None) -> Any:
        return self.metadata.get(asset, {}).get(key, default)

    def render_summary(self, base_url: str, warehouse: Path, seconds: float) -> str:
        sync = keys.SYNC_FILE_ASSET
        hidden = self.value(keys.STAGED_USERS_ASSET, keys.HIDDEN_MEMBERS, 0)
        lines = [
            f"Synced {base_url} in {seconds:.1f} s",
            f"  users          {self.value(sync, 'users', 0)}"
            + (f" ({hidden} not visible to the connector account)" if hidden else ""),
            f"  groups         {self.value(sync, 'groups', 0)}",
            f"  entitlements   {self.value(sync, 'entitlements', 0)}",
            f"  grants         {self.value(sync, 'grants', 0)}",
        ]
        changes = self.value(keys.ACCESS_CHANGES_ASSET, keys.SUMMARY)
        if changes:
            lines.append(f"  changes        {changes}")
        lines += [f"  warning        {w}" for w in self.warnings]
        lines += [
            f"  sync file      {self.value(sync, keys.PATH)} ({self.value(sync, keys.BYTES, 0)} bytes, "
            f"sync {self.value(sync, keys.SYNC_ID)})",
            f"  warehouse      {warehouse}",
        ]
        return "\n".join(lines)


def summarize_run(result: dg.ExecuteInProcessResult) -> RunOutcome:
    outcome = RunOutcome(success=result.success)
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        if materialization is None:
            continue
        plain = {k: _plain(v) for k, v in materialization.metadata.items()}
        outcome.metadata[materialization.asset_key.to_user_string()] = plain
    kept = outcome.value(keys.RAW_MEMBERS_ASSET, keys.GROUPS_KEPT_WITHOUT_MEMBERS) or []
    for group in kept:
        outcome.warnings.append(
            kept_without_members(str(group.get("group_id")), group.get("name"), str(group.get("reason")))
        )
    outcome.warnings += shortened_lines(
        outcome.value(keys.SYNC_FILE_ASSET, keys.SHORTENED_OBJECTS) or [],
        outcome.value(keys.SYNC_FILE_ASSET, keys.SHORTENED, 0),
    )
    outcome.warnings += left_out_lines(
        outcome.value(keys.SYNC_FILE_ASSET, keys.EMAILS_LEFT_OUT_EXAMPLES) or [],
        outcome.value(keys.SYNC_FILE_ASSET, keys.EMAILS_LEFT_OUT, 0),
    )
    pruning = outcome.value(keys.ACCESS_CHANGES_ASSET, keys.RUN_HISTORY_WARNING)
    if pruning:
        outcome.warnings.append(pruning)
    if not result.success or any(_failed_evaluation(e) for e in result.all_events):
        outcome.success = False
        outcome.error = failure_line(result.all_events) or "the run failed"
    elif "c1_sync" not in outcome.metadata:
        outcome.success = False
        outcome.error = "the run ended without publishing a sync"
    return outcome


def failure_line(events: Iterable[dg.DagsterEvent], *, first_line: bool = True) -> str | None:
    """What stopped a run, in one line: the CLI's error and the `run_failed` alert's message.

    The cause of a step that failed before any check did; else the failed blocking checks, each
    named, with the first one's reason; else the first failed step's cause. `events` are the run's,
    in order (its step failures and check evaluations at least). The alert read Dagster's own step
    failure of a blocked run, "1 blocking asset check failed with ERROR severity:
    c1_staging/grants: grants_sudden_drop", which names the check but not why it failed.
    """
    events = list(events)
    step_first = _step_failure_before_any_failed_check(events, first_line)
    if step_first is not None:
        return step_first
    failed_checks = [evaluation for e in events if (evaluation := _failed_evaluation(e)) is not None]
    if failed_checks:
        first = failed_checks[0]
        names = ", ".join(e.check_name for e in failed_checks)
        return (
            f"data-quality check {first.check_name} on {first.asset_key.to_user_string()} failed"
            f"{': ' + first.description if first.description else ''}"
            f"{f' (failed: {names})' if len(failed_checks) > 1 else ''}; nothing was published"
        )
    return _first_failure(events, first_line)


def _failed_evaluation(event: dg.DagsterEvent) -> dg.AssetCheckEvaluation | None:
    if event.event_type_value != "ASSET_CHECK_EVALUATION":
        return None
    evaluation = event.asset_check_evaluation_data
    return evaluation if evaluation is not None and not evaluation.passed else None


def _step_failure_before_any_failed_check(events: Sequence[dg.DagsterEvent], first_line: bool) -> str | None:
    """The cause of a step that failed before any check did, else None.

    A failed step does not stop the steps that do not depend on it, and their checks may then read
    a table the failed step did not rebuild: `users` failed (DuckDB out of memory on a 50 MB
    name), `grants` ran on, and its check `grant_principals_exist` failed against the previous
    sync's `users`; the line named that check, not the cause. A blocking check's own step failure
    comes after its evaluation, so a failed check still names itself.
    """
    for event in events:
        if _failed_evaluation(event) is not None:
            return None
        if event.is_step_failure and event.step_failure_data is not None:
            cause = step_failure_cause(event, first_line=first_line)
            if cause is not None:
                return cause
    return None


def _first_failure(events: Sequence[dg.DagsterEvent], first_line: bool) -> str | None:
    """The first failed step's cause; else the run's own, when it failed before any step ran (a
    resource that could not be set up: the warehouse opened by a UI run after the CLI's check)."""
    for event in events:
        if event.is_step_failure and event.step_failure_data is not None:
            cause = step_failure_cause(event, first_line=first_line)
            if cause is not None:
                return cause
    for event in events:
        if event.event_type == dg.DagsterEventType.RUN_FAILURE:
            return run_failure_cause(event)
    return None


def step_failure_cause(event: dg.DagsterEvent, *, first_line: bool = True) -> str | None:
    """The cause of a STEP_FAILURE event, under Dagster's and dlt's wrapping errors.

    Its first line (what the CLI prints), or with `first_line=False` all its lines joined into one
    (e.g. Dagster's "1 blocking asset check failed ...:" names the check on the next line).
    """
    error = event.step_failure_data.error if event.step_failure_data is not None else None
    cause = _cause(error, first_line=first_line)
    return None if cause is None else _with_step_if_duckdb(event, cause)


def run_failure_cause(event: dg.DagsterEvent) -> str | None:
    """The cause of a RUN_FAILURE that no step failure explains, all its lines joined into one.

    A run fails before any step when a resource cannot be set up (the warehouse held open by
    another process, a launchpad value refused); Dagster's own message then says only "An
    exception was thrown during execution."
    """
    return _cause(getattr(event.event_specific_data, "error", None), first_line=False)


def _cause(error: Any, *, first_line: bool) -> str | None:
    while error is not None and error.cause is not None and _is_wrapper(error.cls_name):
        error = error.cause
    if error is None:
        return None
    message = error.message if first_line else " ".join(error.message.split())
    return _one_line(message, error.cls_name)


def _with_step_if_duckdb(event: dg.DagsterEvent, cause: str) -> str:
    """A DuckDB error's cause named with its step: DuckDB's own text (`Out of Memory Error: could not
    allocate block of size 256.0 KiB (...)`) says nothing of which transform it stopped; our errors
    (`xmatters: ...`, a check's line) already say what they are about."""
    error = event.step_failure_data.error if event.step_failure_data is not None else None
    while error is not None and error.cause is not None and _is_wrapper(error.cls_name):
        error = error.cause
    if error is None or not error.message.lstrip().startswith(("_duckdb.", "duckdb.")):
        return cause
    step = (event.step_key or "a step").replace("__", "/")
    return f"{step} failed in DuckDB: {cause}"


def _is_wrapper(cls_name: str | None) -> bool:
    return cls_name in {
        "DagsterExecutionStepExecutionError",
        "PipelineStepFailed",
        "DagsterUserCodeExecutionError",
        "DagsterResourceFunctionError",
    }


def _one_line(message: str, cls_name: str | None) -> str:
    """The first line of an error without its class name, which Dagster prefixes module-qualified.

    `pipelines.xmatters.errors.AuthError: xmatters: HTTP 401 ...` -> `xmatters: HTTP 401 ...`:
    the user reads the cause, not our module layout.
    """
    text = message.strip()
    if cls_name:
        head, sep, rest = text.partition(":")
        if sep and (head == cls_name or head.endswith("." + cls_name)):
            text = rest.strip()
    return text.splitlines()[0] if text else (cls_name or "error")


def _plain(value: Any) -> Any:
    return getattr(value, "value", value)
