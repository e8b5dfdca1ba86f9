"""The runs the alert sensors have not read yet: the run history's retention keeps them.

Both sensors (orchestration/sensors.py) read runs finished after their cursor, a storage id of the
event log: `xmatters_run_failure_alert` (Dagster's run-failure sensor) each RUN_FAILURE event,
`xmatters_failed_check_alert` each run-finished event and then the run's check evaluations. A run
deleted before the next tick is never alerted on: its events go with it. That happened when a
failed sync was followed within the sensors' 30 s by a good one with a short `history_retention`,
and whenever the daemon was down (Dagster keeps the cursor then, and its sensors catch up when it
is back). So a run the sensors would alert on and have not read yet is not deleted:
- a failed run, after the run-failure sensor's cursor;
- a run with a failed check, after the check sensor's cursor;
- only while the sensor is on (not stopped in the UI; a sensor that never ticked has no cursor,
  and its first tick takes only what finishes afterwards), and only for `MAX_AGE` after the run
  ended: a daemon down for weeks beside an hourly CLI schedule must not keep every failure.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import dagster as dg
from dagster._core.definitions.run_status_sensor_definition import RunStatusSensorCursor
from dagster._core.scheduler.instigation import InstigatorStatus, InstigatorType

from orchestration.deferred_schedules import DeferredSqliteScheduleStorage
from orchestration.sensors import failed_check_alert, failed_checks, run_failure_alert

MAX_AGE_S = 7 * 24 * 3600.0  # Dagster drops skipped sensor ticks after 7 days too
_PAGE = 100
_FINISHED = (
    dg.DagsterEventType.RUN_SUCCESS,
    dg.DagsterEventType.RUN_FAILURE,
    dg.DagsterEventType.RUN_CANCELED,
)


def unalerted_runs(instance: dg.DagsterInstance, now: float | None = None) -> set[str]:
    """The ids of the runs an alert sensor has yet to read and would alert on (module docstring)."""
    oldest = (time.time() if now is None else now) - MAX_AGE_S
    runs: set[str] = set()
    for name, after in _cursors(instance):
        if name == run_failure_alert.name:
            runs.update(
                r.run_id for r in _finished_after(instance, [dg.DagsterEventType.RUN_FAILURE], after, oldest)
            )
        else:
            finished = {r.run_id for r in _finished_after(instance, _FINISHED, after, oldest)}
            runs.update(run_id for run_id in finished if any(True for _ in failed_checks(instance, run_id)))
    return runs


def _cursors(instance: dg.DagsterInstance) -> Iterator[tuple[str, int]]:
    """(sensor name, storage id read up to) of each alert sensor that is on and has ticked."""
    names = {run_failure_alert.name, failed_check_alert.name}
    storage = instance.schedule_storage
    if isinstance(storage, DeferredSqliteScheduleStorage) and storage.never_created():
        return  # a home only the CLI syncs: no sensor ever ran (the file is not created for nothing)
    for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
        if state.name not in names or state.status == InstigatorStatus.STOPPED:
            continue
        cursor = getattr(state.instigator_data, "cursor", None)
        after = _storage_id(state.name, cursor)
        if after is not None:
            yield state.name, after


def _storage_id(name: str, cursor: str | None) -> int | None:
    if not cursor:
        return None
    if name == run_failure_alert.name:
        return (
            RunStatusSensorCursor.from_json(cursor).record_id
            if RunStatusSensorCursor.is_valid(cursor)
            else None
        )
    try:
        return int(cursor.strip())
    except ValueError:
        return None


def _finished_after(
    instance: dg.DagsterInstance, event_types: tuple | list, after: int, oldest: float
) -> Iterator[dg.EventLogRecord]:
    """The run-status events of `event_types` after storage id `after` and not before `oldest`."""
    for event_type in event_types:
        cursor = after
        while True:
            records_filter = dg.RunStatusChangeRecordsFilter(event_type=event_type, after_storage_id=cursor)  # type: ignore[arg-type]
            page = instance.fetch_run_status_changes(records_filter, limit=_PAGE, ascending=True).records
            yield from (record for record in page if record.timestamp >= oldest)
            if len(page) < _PAGE:
                break
            cursor = page[-1].storage_id
