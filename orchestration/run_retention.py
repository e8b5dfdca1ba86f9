"""The run history's retention: after a sync, Dagster runs older than the syncs the warehouse keeps go.

Dagster keeps every run forever: each sync added ~440 KB to the home's SQLite event log (its
events: asset metadata, column schemas, previews; and its check executions), ~160 MB a year of
daily syncs, ~3.8 GB of hourly ones. The warehouse keeps the change history of the newest
`history_retention` published syncs (orchestration/history.py); the run history now keeps the
runs of the same syncs: every run from the one that published the oldest of them on, failed and
partial runs between them included. An older run is deleted unless it is
- not finished (queued, starting, running, canceling): only SUCCESS, FAILURE and CANCELED go;
- not one of ours: a run without the `baton-xmatters/started-by` tag (orchestration/run_tags.py)
  belongs to another code location sharing the instance;
- read by the publish gate (orchestration/audit_gate.py): the run of an asset's latest
  materialization (or observation, or latest run), and the run of every check execution the gate
  walks past before it reaches the latest materialization's own. A "Materialize" of `c1_sync`
  alone decides after pruning exactly as before.

`DagsterInstance.delete_run` removes the run, its tags and its events, not its check executions
(`asset_check_executions` rows, ~12% of a run's bytes) nor its captured stdout/stderr (a UI run's
`storage/<run_id>/compute_logs`): both are deleted here too, or the files would keep growing.
SQLite reuses the freed pages, so the files stop growing once the kept runs fill them; they do not
shrink (`VACUUM` does that).

Deleting is oldest first and at most `MAX_DELETED` runs per sync: the first sync after an upgrade
of a home with a year of hourly runs does not spend minutes on them; the next syncs catch up.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

import dagster as dg

from orchestration import metadata_keys as keys
from orchestration.run_tags import STARTED_BY

MAX_DELETED = 200  # runs deleted by one sync, oldest first
_FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
_HISTORY_PAGE = 20  # check executions read at a time, newest first (as the publish gate reads them)


@dataclass(frozen=True)
class Pruned:
    deleted: int
    left: int  # older runs that would go but exceeded MAX_DELETED: the next syncs delete them

    def summary(self) -> str:
        more = f" ({self.left} more at the next syncs)" if self.left else ""
        return f"deleted {self.deleted} runs older than the kept syncs{more}"


def prune_runs(
    instance: dg.DagsterInstance,
    keep_syncs: int,
    checks: Iterable[dg.AssetCheckKey],
    materializing: Collection[dg.AssetKey] = (),
    max_deleted: int = MAX_DELETED,
) -> Pruned:
    """Deletes the runs older than the run of the `keep_syncs`-th newest published sync (`c1_sync`
    materialization), but those the module docstring keeps; nothing before that many syncs.

    `materializing`: the assets of the step that prunes, whose latest materialization is this run's
    once it returns; the run of their previous one is not kept for them (it kept the previous sync's
    run one sync longer than the others: with a retention of 1, two syncs' runs)."""
    oldest_kept = _oldest_kept_sync_run(instance, keep_syncs)
    if oldest_kept is None:
        return Pruned(0, 0)
    # runs created before the oldest kept sync's run (run storage order, not the clock's), newest first
    older = instance.get_run_records(filters=dg.RunsFilter(statuses=_FINISHED), cursor=oldest_kept)
    ours = [record.dagster_run.run_id for record in reversed(older) if STARTED_BY in record.dagster_run.tags]
    if not ours:
        return Pruned(0, 0)
    protected = _read_by_the_gate(instance, checks, materializing)
    doomed = [run_id for run_id in ours if run_id not in protected]
    deleted = doomed[:max_deleted]
    logs = _compute_logs(instance) if deleted else None
    for run_id in deleted:
        instance.delete_run(run_id)  # the run and its tags first: a run that stays keeps its events
        _delete_check_executions(instance, run_id)
        if logs is not None:
            logs.delete_logs(prefix=[run_id])
    return Pruned(len(deleted), len(doomed) - len(deleted))


def prune_or_warn(
    instance: dg.DagsterInstance,
    keep_syncs: int,
    checks: Iterable[dg.AssetCheckKey],
    materializing: Collection[dg.AssetKey] = (),
) -> tuple[Pruned | None, str | None]:
    """`prune_runs`, whose error is one warning line instead: the sync is published already, and
    runs left over go at the next sync."""
    try:
        return prune_runs(instance, keep_syncs, checks, materializing), None
    except Exception as exc:  # any storage's error; an interrupt (a BaseException) still stops the run
        # a SQLAlchemy error's own text adds the statement and a link: the driver's says it all
        text = " ".join(str(getattr(exc, "orig", None) or exc).split()) or type(exc).__name__
        cause = text if len(text) <= 200 else text[:199] + "…"
        name = type(exc).__name__
        return None, f"old Dagster runs were not deleted ({name}: {cause}); the next sync tries again"


def _oldest_kept_sync_run(instance: dg.DagsterInstance, keep_syncs: int) -> str | None:
    """The run that published the `keep_syncs`-th newest sync; None before that many syncs.

    A materialization of `c1_sync` reported by hand (the UI's "Report materialization event") has
    no run: it is no sync, and as the run storage's cursor its empty run id meant no cursor at all,
    every finished run older than nothing."""
    found = 0
    cursor = None
    while True:
        page = instance.fetch_materializations(
            dg.AssetKey(keys.SYNC_FILE_ASSET), limit=keep_syncs, cursor=cursor
        )
        for record in page.records:
            found += bool(record.run_id)
            if record.run_id and found == keep_syncs:
                return record.run_id
        if not page.has_more:
            return None
        cursor = page.cursor


def _read_by_the_gate(
    instance: dg.DagsterInstance, checks: Iterable[dg.AssetCheckKey], materializing: Collection[dg.AssetKey]
) -> set[str]:
    """The runs whose records the publish gate and the asset pages read as the latest."""
    protected: set[str] = set()
    latest: dict[dg.AssetKey, dg.EventLogRecord] = {}
    for record in instance.get_asset_records():
        entry = record.asset_entry
        materialization = None if entry.asset_key in materializing else entry.last_materialization_record
        for event in (materialization, entry.last_observation_record):
            if event is not None:
                protected.add(event.run_id)
        protected.update(run for run in (entry.last_run_id,) if run)
        if entry.last_materialization_record is not None:
            latest[entry.asset_key] = entry.last_materialization_record
    checks = list(checks)
    newest = instance.event_log_storage.get_latest_asset_check_execution_by_key(checks)
    for check in checks:
        materialization = latest.get(check.asset_key)
        run_id = materialization.run_id if materialization else None
        execution = newest.get(check)
        if execution is not None and execution.run_id == run_id:
            continue  # the usual case, in one query for all checks: the run is protected already
        protected.update(_executions_up_to(instance, check, run_id))
    return protected


def _executions_up_to(instance: dg.DagsterInstance, check: dg.AssetCheckKey, run_id: str | None) -> set[str]:
    """The runs of the check's executions, newest first, down to the one of run `run_id` (the
    latest materialization's): the ones the gate may take for the latest (audit_gate.py
    `_latest_execution`). All of them when that run has none: kept rather than guessed."""
    runs: set[str] = set()
    cursor = None
    while True:
        page = instance.event_log_storage.get_asset_check_execution_history(
            check, limit=_HISTORY_PAGE, cursor=cursor
        )
        for execution in page:
            runs.add(execution.run_id)
            if execution.run_id == run_id:
                return runs
        if len(page) < _HISTORY_PAGE:
            return runs
        cursor = page[-1].id


def _delete_check_executions(instance: dg.DagsterInstance, run_id: str) -> None:
    """A deleted run's rows of `asset_check_executions`, which `delete_run` leaves (Dagster 1.13)."""
    from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable
    from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage

    storage = instance.event_log_storage
    if not isinstance(storage, SqlEventLogStorage):
        return
    table = AssetCheckExecutionsTable
    with storage.index_connection() as conn:
        conn.execute(table.delete().where(table.c.run_id == run_id))


def _compute_logs(instance: dg.DagsterInstance):  # noqa: ANN202 (Dagster's ComputeLogManager)
    """Where the home's runs captured their stdout/stderr: the CLI's instance captures nothing
    (sync_command.cli_instance), but the UI's and the schedule's runs did, where the home's
    dagster.yaml says (by default `storage/<run_id>/compute_logs`)."""
    from dagster._core.instance.ref import InstanceRef
    from dagster._core.storage.noop_compute_log_manager import NoOpComputeLogManager

    manager = instance.compute_log_manager
    if isinstance(manager, NoOpComputeLogManager) and instance.root_directory:
        return InstanceRef.from_dir(instance.root_directory).compute_log_manager
    return manager
