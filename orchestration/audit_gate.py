"""The publish gate across runs: `c1_sync` publishes only staged tables whose blocking checks passed.

Dagster's blocking checks hold back `c1_sync` only in the run that ran them. A run of `c1_sync`
alone (its asset page's "Materialize", `dagster asset materialize --select c1_sync`, a re-execution
of the `c1_sync` step) would otherwise publish whatever the staging tables hold: after a sync
blocked by the drop check, one click published the 88% drop of users it had refused. So before it
writes anything `c1_sync` asks the Dagster instance, for every blocking check of the staged tables
it publishes, whether the check's latest execution passed on the table's latest materialization.
A run that stages, checks and publishes (the job, "Materialize all", the CLI) passes that by
construction, and so does "Re-execute from failure" after a failed write: its parent run checked
the same materializations.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

import dagster as dg
from dagster._core.storage.asset_check_execution_record import (
    AssetCheckExecutionRecord,
    AssetCheckExecutionRecordStatus,
)

DESCRIPTION_CHARS = 200  # a check's own description in the one-line error, at most
_HISTORY_PAGE = 20  # executions of a check read at a time, newest first


class UnauditedTablesError(Exception):
    """Some staged table did not pass its blocking checks: what, per check, in one line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            "c1_sync publishes only staged tables whose blocking checks passed: "
            + "; ".join(problems)
            + "; nothing was published (the previous .c1z and c1 tables are unchanged): "
            "run the whole sync (Materialize all, or the xmatters_sync job) once the cause is fixed"
        )


def unaudited(
    instance: dg.DagsterInstance, checks: Iterable[dg.AssetCheckSpec], tables: Collection[dg.AssetKey]
) -> list[str]:
    """Why the latest materializations of `tables` may not be published; empty when they may.

    A table never materialized, a blocking check that never ran on its latest materialization, did
    not finish, or failed, each gives one short phrase.
    """
    specs = [spec for spec in checks if spec.blocking and spec.asset_key in tables]
    materialized = {
        record.asset_entry.asset_key: record.asset_entry.last_materialization_record
        for record in instance.get_asset_records(list(tables))
    }
    problems: list[str] = []
    never: list[str] = []
    for table in sorted(tables, key=lambda key: key.to_user_string()):
        materialization = materialized.get(table)
        if materialization is None:
            never.append(table.to_user_string())
            continue
        for spec in (s for s in specs if s.asset_key == table):
            problem = _check_problem(_latest_execution(instance, spec.key, materialization), materialization)
            if problem:
                problems.append(f"{table.to_user_string()} check {spec.name} {problem}")
    if never:
        problems.insert(0, f"{', '.join(never)} {'was' if len(never) == 1 else 'were'} never materialized")
    return problems


def _latest_execution(
    instance: dg.DagsterInstance, key: dg.AssetCheckKey, materialization: dg.EventLogRecord
) -> AssetCheckExecutionRecord | None:
    """The check's latest execution: the one evaluated last, of those up to the one of the run that
    materialized the table.

    Dagster records a run's check executions when it plans the run, so their order is the order
    the runs were created, not the order they ran in. Two consequences:
    - a run queued behind this one ("Materialize all" clicked twice) holds the newest execution of
      every check, only planned: those of other runs are passed over (the run ahead, whose checks
      passed, was refused; it crashed on the planned record, in fact);
    - a run that waited in the queue while a CLI sync (in-process, never queued) was created and
      finished ran its checks after the CLI's, on a newer materialization, yet its executions are
      recorded before the CLI's: the one evaluated last counts, not the one recorded last. Runs
      planned before the materializing run's own execution are not read.
    """
    latest: AssetCheckExecutionRecord | None = None
    cursor = None
    while True:
        page = instance.event_log_storage.get_asset_check_execution_history(
            key, limit=_HISTORY_PAGE, cursor=cursor
        )
        for execution in page:
            planned_elsewhere = (
                execution.status == AssetCheckExecutionRecordStatus.PLANNED
                and execution.run_id != materialization.run_id
            )
            if planned_elsewhere:
                continue
            if latest is None or _evaluated_at(execution) > _evaluated_at(latest):
                latest = execution
            if execution.run_id == materialization.run_id:
                return latest
        if len(page) < _HISTORY_PAGE:
            return latest
        cursor = page[-1].id


def _evaluated_at(execution: AssetCheckExecutionRecord) -> float:
    """When the check ran (its evaluation event); for one only planned, when it was planned."""
    return execution.event.timestamp if execution.event is not None else execution.create_timestamp


def _check_problem(
    execution: AssetCheckExecutionRecord | None, materialization: dg.EventLogRecord
) -> str | None:
    if execution is None:
        return "never ran"
    # a planned execution's event is an AssetCheckEvaluationPlanned: no target, no description
    evaluation = execution.evaluation if execution.status != AssetCheckExecutionRecordStatus.PLANNED else None
    target = evaluation.target_materialization_data if evaluation else None
    on_latest = (
        target.storage_id == materialization.storage_id
        if target is not None
        else execution.run_id == materialization.run_id
    )
    if not on_latest:
        return f"did not run on its latest materialization (run {materialization.run_id[:8]})"
    if execution.status == AssetCheckExecutionRecordStatus.SUCCEEDED:
        return None
    if execution.status == AssetCheckExecutionRecordStatus.FAILED:
        detail = evaluation.description if evaluation else None
        shown = f": {_abbreviated(detail)}" if detail else ""
        return f"failed in run {execution.run_id[:8]}{shown}"
    return f"did not finish in run {execution.run_id[:8]}"


def _abbreviated(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= DESCRIPTION_CHARS else line[: DESCRIPTION_CHARS - 1] + "…"


def built_before_extract(
    instance: dg.DagsterInstance, tables: Collection[dg.AssetKey], extract: Collection[dg.AssetKey]
) -> list[str]:
    """The staged tables whose latest materialization is older than the latest of the `extract`
    (raw) assets, as one phrase; empty when none is.

    Each table's own checks passed, but a table built before a newer extract holds rows of another
    one than a table built after it: the UI's "Materialize" on the raw assets, then on one staged
    table, then on `c1_sync` would publish users of one extract beside grants of another (the
    writer refused a grant to a user the newer extract no longer had, or it went through).
    """
    records = {
        record.asset_entry.asset_key: record.asset_entry.last_materialization_record
        for record in instance.get_asset_records([*tables, *extract])
    }
    extracted = [records[key].storage_id for key in extract if records.get(key) is not None]
    if not extracted:
        return []
    latest = max(extracted)
    older = sorted(
        key.to_user_string()
        for key in tables
        if (record := records.get(key)) is not None and record.storage_id < latest
    )
    if not older:
        return []
    verb = "was" if len(older) == 1 else "were"
    source = ", ".join(sorted({key.path[0] for key in extract}))
    return [f"{', '.join(older)} {verb} built before the latest extract ({source})"]
