"""The run history's retention: after a sync, Dagster runs older than the syncs the warehouse keeps go.

Dagster keeps every run forever: each sync added ~440 KB to the home's SQLite event log (its
events: asset metadata, column schemas, previews; and its check executions), ~160 MB a year of
daily syncs, ~3.8 GB of hourly ones. The warehouse keeps the change history of the newest
`history_retention` (N) published syncs (orchestration/history.py); the run history keeps
- the runs that published the N newest syncs of this warehouse;
- of its other runs (failed, canceled, partial: they published nothing) those since the oldest of
  them, but at most the newest N. A schedule failing for weeks (credentials expired) keeps its N
  newest failures, not all of them; so does a home that has never published.
Every other run of the warehouse is deleted unless it is
- not finished (queued, starting, running, canceling): only SUCCESS, FAILURE and CANCELED go;
- not one of ours: a run without the `baton-xmatters/started-by` tag (orchestration/run_tags.py)
  belongs to another code location sharing the instance;
- another warehouse's: two warehouses (`--warehouse`) may share a Dagster home; each run is tagged
  with its warehouse file (`baton-xmatters/warehouse`), and syncs are counted and runs deleted per
  warehouse. A run without that tag (an earlier version's) or of a warehouse file that no longer
  exists is counted with every warehouse: nothing else would ever delete it;
- read by the publish gate (orchestration/audit_gate.py): the run of an asset's latest
  materialization (or observation, or latest run), and the run of every check execution the gate
  walks past before it reaches the latest materialization's own. A "Materialize" of `c1_sync`
  alone decides after pruning exactly as before;
- not yet read by the alert sensors, which would alert on it (orchestration/alert_backlog.py).

`DagsterInstance.delete_run` removes the run, its tags and its events, not its check executions
(`asset_check_executions` rows, ~12% of a run's bytes), its captured stdout/stderr (a UI run's
`storage/<run_id>/compute_logs`) nor, in a home with one event-log file per run, that file: all
are deleted here too, or the files would keep growing. SQLite reuses the freed pages, so the files
stop growing once the kept runs fill them; after a large deletion they are vacuumed
(orchestration/history_space.py).

Pruned after each sync (its last step, `c1_access_changes`), after a CLI run that failed
(`sync_command.prune_after_failure`), and at the end of every other run of the code location, a
failed one too (orchestration/run_end_retention.py).

Deleting is oldest first and at most `MAX_DELETED` runs per sync: the first sync after an upgrade
of a home with a year of hourly runs does not spend minutes on them; the next syncs catch up.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import sqlalchemy as db
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from orchestration import history_space
from orchestration import metadata_keys as keys
from orchestration.alert_backlog import unalerted_runs
from orchestration.run_tags import STARTED_BY
from orchestration.run_warehouse import WAREHOUSE

MAX_DELETED = 200  # runs deleted by one sync, oldest first
_FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
_HISTORY_PAGE = 20  # check executions read at a time, newest first (as the publish gate reads them)


@dataclass(frozen=True)
class Pruned:
    deleted: int
    left: int  # older runs that would go but exceeded MAX_DELETED: the next syncs delete them
    reclaimed: tuple[history_space.Reclaimed, ...] = ()  # the files vacuumed (or not, and why)
    leftover_files: int = 0  # runs whose one-file-per-run event log was left by an earlier deletion

    def summary(self) -> str:
        more = f" ({self.left} more at the next syncs)" if self.left else ""
        text = f"deleted {_runs(self.deleted)} not kept{more}"
        if self.leftover_files:
            text += f"; removed the empty event-log files of {_runs(self.leftover_files, 'deleted ')}"
        return "; ".join([text, *(r.summary() for r in self.reclaimed)])


def _runs(count: int, adjective: str = "") -> str:
    """`1 run`, `2 runs` (`1 deleted run`): the summary is read in the run's log and metadata."""
    return f"{count} {adjective}run{'' if count == 1 else 's'}"


def prune_runs(
    instance: dg.DagsterInstance,
    keep_syncs: int,
    checks: Iterable[dg.AssetCheckKey],
    materializing: Collection[dg.AssetKey] = (),
    max_deleted: int = MAX_DELETED,
    warehouse: str | None = None,
    now: float | None = None,
) -> Pruned:
    """Deletes the runs of warehouse `warehouse` (a `run_warehouse.warehouse_path`; None: every run of
    ours) the module docstring does not keep: the runs of its `keep_syncs` newest published syncs
    (`c1_sync` materializations) stay, and of its other runs since the oldest of them only the
    newest `keep_syncs`.

    `materializing`: the assets of the step that prunes, whose latest materialization is this run's
    once it returns; the run of their previous one is not kept for them (it kept the previous sync's
    run one sync longer than the others: with a retention of 1, two syncs' runs)."""
    runs = [record.dagster_run for record in instance.get_run_records()]  # newest first (creation order)
    mine = [run for run in runs if _of_this_warehouse(run.tags, warehouse)]
    syncs = _kept_sync_runs(instance, keep_syncs, {run.run_id for run in mine})
    doomed: list[str] = []
    others = 0
    past_window = False
    for run in mine:
        if run.run_id in syncs:
            past_window = past_window or (len(syncs) == keep_syncs and run.run_id == syncs[-1])
            continue
        if run.status not in _FINISHED:
            continue
        others += not past_window
        if past_window or others > keep_syncs:
            doomed.append(run.run_id)
    if not doomed:
        return Pruned(0, 0)
    protected = _read_by_the_gate(instance, checks, materializing) | unalerted_runs(instance, now)
    doomed = [run_id for run_id in reversed(doomed) if run_id not in protected]  # oldest first
    deleted = doomed[:max_deleted]
    logs = _compute_logs(instance) if deleted else None
    root = Path(instance.root_directory) if instance.root_directory else None
    for run_id in deleted:
        instance.delete_run(run_id)  # the run and its tags first: a run that stays keeps its events
        _delete_check_executions(instance, run_id)
        if logs is not None:
            logs.delete_logs(prefix=[run_id])
        if root is not None:
            history_space.remove_shard(history_space.shard_dir(root), run_id)
    return Pruned(len(deleted), len(doomed) - len(deleted))


def _of_this_warehouse(tags: Mapping[str, str], warehouse: str | None) -> bool:
    """One of our runs (the `started-by` tag) that synced into `warehouse`, or whose warehouse is
    unknown: a run of an earlier version (no warehouse tag) or of a warehouse file that is gone (a
    home moved, a warehouse deleted), which no sync would otherwise ever delete."""
    if STARTED_BY not in tags:
        return False
    theirs = tags.get(WAREHOUSE)
    return warehouse is None or theirs is None or theirs == warehouse or not os.path.exists(theirs)


def prune_or_warn(
    instance: dg.DagsterInstance,
    keep_syncs: int,
    checks: Iterable[dg.AssetCheckKey],
    materializing: Collection[dg.AssetKey] = (),
    warehouse: str | None = None,
) -> tuple[Pruned | None, str | None]:
    """`prune_runs`, then the files' space given back (orchestration/history_space.py) once no run is
    left to delete; an error is one warning line instead: the sync is published already, and runs
    left over go at the next sync."""
    try:
        pruned = prune_runs(instance, keep_syncs, checks, materializing, warehouse=warehouse)
        if not instance.root_directory or pruned.left:
            return pruned, None
        root = Path(instance.root_directory)
        leftovers = history_space.remove_leftover_shards(instance, root)
        reclaimed = history_space.reclaim(history_space.history_files(root))
        return dataclasses.replace(pruned, reclaimed=tuple(reclaimed), leftover_files=leftovers), None
    except Exception as exc:  # any storage's error; an interrupt (a BaseException) still stops the run
        # a SQLAlchemy error's own text adds the statement and a link: the driver's says it all
        text = " ".join(str(getattr(exc, "orig", None) or exc).split()) or type(exc).__name__
        cause = text if len(text) <= 200 else text[:199] + "…"
        name = type(exc).__name__
        return None, f"old Dagster runs were not deleted ({name}: {cause}); the next sync tries again"


def _kept_sync_runs(instance: dg.DagsterInstance, keep_syncs: int, mine: set[str]) -> list[str]:
    """The runs that published the `keep_syncs` newest syncs among the runs `mine`, newest first.

    A materialization of `c1_sync` reported by hand (the UI's "Report materialization event") has
    no run: it is no sync (as the run storage's cursor its empty run id once meant no cursor at
    all, every finished run older than nothing)."""
    found: list[str] = []
    for run_id in _sync_file_runs(instance, page_size=max(keep_syncs, 20)):
        if run_id in mine and run_id not in found:
            found.append(run_id)
            if len(found) == keep_syncs:
                break
    return found


def _sync_file_runs(instance: dg.DagsterInstance, page_size: int) -> Iterator[str]:
    """The run ids of `c1_sync`'s materializations, newest first.

    Read from the event log's index, not as event records: each record's metadata (the published
    tables' column schemas) took ~8-15 ms to deserialize, 0.5 s a sync at the default retention of
    30 and 3 s with 200 syncs kept, for one column of each."""
    from dagster._core.storage.event_log.schema import SqlEventLogStorageTable
    from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage

    key = dg.AssetKey(keys.SYNC_FILE_ASSET)
    storage = instance.event_log_storage
    if not isinstance(storage, SqlEventLogStorage):
        cursor = None
        while True:
            page = instance.fetch_materializations(key, limit=page_size, cursor=cursor)
            yield from (record.run_id for record in page.records)
            if not page.has_more:
                return
            cursor = page.cursor
    table = SqlEventLogStorageTable
    before: int | None = None
    while True:
        query = (
            db.select(table.c.id, table.c.run_id)
            .where(table.c.asset_key == key.to_string())
            .where(table.c.dagster_event_type == dg.DagsterEventType.ASSET_MATERIALIZATION.value)
            .order_by(table.c.id.desc())
            .limit(page_size)
        )
        if before is not None:
            query = query.where(table.c.id < before)
        with storage.index_connection() as conn:
            rows = conn.execute(query).fetchall()
        yield from (run_id for _id, run_id in rows)
        if len(rows) < page_size:
            return
        before = rows[-1][0]


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
        if materialization is None:
            # the gate reads no check of a table never materialized; its executions were only
            # planned by runs that failed before it (a home that has never published): kept, they
            # were all of those runs, however many
            continue
        execution = newest.get(check)
        if execution is not None and execution.run_id == materialization.run_id:
            continue  # the usual case, in one query for all checks: the run is protected already
        protected.update(_executions_up_to(instance, check, materialization.run_id))
    return protected


def _executions_up_to(instance: dg.DagsterInstance, check: dg.AssetCheckKey, run_id: str) -> set[str]:
    """The runs of the check's executions, newest first, down to the one of run `run_id` (the
    latest materialization's): the ones the gate may take for the latest (audit_gate.py
    `_latest_execution`). All of them when that run has none: kept rather than guessed. Not the
    runs of executions only planned, which the gate passes over: every failed sync since the
    latest materialization planned one, and keeping them all kept every failure."""
    runs: set[str] = set()
    cursor = None
    while True:
        page = instance.event_log_storage.get_asset_check_execution_history(
            check, limit=_HISTORY_PAGE, cursor=cursor
        )
        for execution in page:
            if execution.status != AssetCheckExecutionRecordStatus.PLANNED or execution.run_id == run_id:
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
