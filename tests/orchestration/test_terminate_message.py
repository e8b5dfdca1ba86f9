"""The UI's Terminate: one clear line naming what was kept, the run Canceled, nothing else logged.

Dagster terminates a run of the code location by marking it canceling and sending its run worker
SIGINT; that is done here from inside the `groups` transform, as the click lands, or while Dagster
records that transform's success (between two steps). The runs go through the job's own executor, as
the run worker's do (`execute_job`; `execute_in_process` swaps in an executor of its own).

Before: the step's failure read `DagsterExecutionInterruptedError` over a stack trace of DuckDB's
call; then, with that turned into one line, the run log gained an error line per step depending on
the stopped one ("Dependencies for step ... Not executing.") and the canceled event carried the
interrupt's stack trace; a Terminate between two steps kept Dagster's own message.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster._core.definitions.reconstruct import ReconstructableRepository

from orchestration.assets import c1_tables
from orchestration.definitions import build_definitions
from orchestration.jobs import SYNC_JOB_NAME
from orchestration.resources import SyncSettings, WarehouseResource
from simulator import FaultRule, Faults
from tests.orchestration.conftest import use_simulator

REPO_ROOT = Path(__file__).resolve().parents[2]

JOBS = pytest.mark.parametrize(
    "job_name", [SYNC_JOB_NAME, "__ASSET_JOB"], ids=["sync_job", "materialize_all"]
)


@dg.definitions
def location_defs() -> dg.Definitions:
    """The code location, loaded lazily like a code server's; Dagster keeps it once loaded, so its
    files are named by variables each test sets (`_run`), read when a run starts."""
    return build_definitions(
        {
            "warehouse": WarehouseResource(
                database=dg.EnvVar("TERMINATE_TEST_WAREHOUSE"),
                dlt_pipelines_dir=dg.EnvVar("TERMINATE_TEST_DLT"),
            ),
            "sync_settings": SyncSettings(sync_file=dg.EnvVar("TERMINATE_TEST_SYNC_FILE")),
        }
    )


def _run(instance: dg.DagsterInstance, job_name: str, directory: Path) -> str:
    """A run of `job_name` through its own executor, as the run worker runs it (reconstructed by name)."""
    os.environ["TERMINATE_TEST_WAREHOUSE"] = str(directory / "wh.duckdb")
    os.environ["TERMINATE_TEST_DLT"] = str(directory / "dlt")
    os.environ["TERMINATE_TEST_SYNC_FILE"] = str(directory / "sync.c1z")
    repository = ReconstructableRepository.for_module(__name__, "location_defs", str(REPO_ROOT))
    with dg.execute_job(
        repository.get_reconstructable_job(job_name), instance=instance, raise_on_error=False
    ) as result:
        return result.run_id


def _terminate(instance: dg.DagsterInstance) -> None:
    """What the UI's Terminate does to a run of the code location: canceling, then SIGINT."""
    [run] = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
    instance.report_run_canceling(run)
    signal.raise_signal(signal.SIGINT)


def _published(directory: Path) -> list[tuple]:
    with duckdb.connect(str(directory / "wh.duckdb"), read_only=True) as con:
        return con.execute("SELECT * FROM c1.sync_runs").fetchall()


def _use_simulator_for_runs(monkeypatch: pytest.MonkeyPatch, simulator) -> None:
    use_simulator(monkeypatch, simulator)
    for name in ("TERMINATE_TEST_WAREHOUSE", "TERMINATE_TEST_DLT", "TERMINATE_TEST_SYNC_FILE"):
        monkeypatch.setenv(name, "")  # restored after the test; `_run` sets them


def _first_sync(
    instance: dg.DagsterInstance, job_name: str, directory: Path
) -> tuple[str, bytes, list[tuple]]:
    """A successful run first: its id, and the sync file and published tables a stopped run must
    leave as they are."""
    first = _run(instance, job_name, directory)
    assert instance.get_run_by_id(first).status == dg.DagsterRunStatus.SUCCESS
    return first, (directory / "sync.c1z").read_bytes(), _published(directory)


def _messages(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [record.user_message for record in instance.all_logs(run_id)]


@JOBS
def test_a_step_terminated_in_the_ui_fails_with_one_line_and_the_run_ends_there(
    simulator, data_home, tmp_path, monkeypatch, job_name
):
    _use_simulator_for_runs(monkeypatch, simulator)
    sync_file = tmp_path / "sync.c1z"
    with dg.instance_for_test() as instance:
        first, previous, published = _first_sync(instance, job_name, tmp_path)

        count = c1_tables._count

        def count_then_terminate(con, table):  # the first transform to count its rows: groups
            _terminate(instance)
            return count(con, table)

        monkeypatch.setattr(c1_tables, "_count", count_then_terminate)
        run_id = _run(instance, job_name, tmp_path)

        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.CANCELED
        started = [e.step_key for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START)]
        assert started == ["xmatters_raw", "c1_staging__groups"]  # nothing after the stopped step
        [failure] = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
        [canceled] = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_CANCELED)
        errors = [m for m in _messages(instance, run_id) if "Dependencies for step" in m]

    data = failure.dagster_event.step_failure_data
    line = (
        "Run stopped by the user (Terminate) during step c1_staging__groups: nothing was published; "
        f"the previous {sync_file} and c1 tables are kept; the steps after it did not run."
    )
    assert data.user_failure_data.description == line  # the step's failure in the UI
    assert data.user_failure_data.metadata["published"] == dg.MetadataValue.text("nothing")
    assert data.error.message == f"orchestration.stopped_run.RunStopped: {line}\n"
    assert data.error.cause is None and data.error.context is None  # no DuckDB frames under it
    assert errors == []  # no "Dependencies for step ... were not executed" line per later step
    # the run's last line: no interrupt, no stack trace under it
    assert canceled.dagster_event.event_specific_data.error is None
    assert canceled.dagster_event.message == "Run was canceled. Failed steps: ['c1_staging__groups']."
    assert sync_file.read_bytes() == previous
    assert _published(tmp_path) == published


@pytest.mark.parametrize("held_signal", [False, True], ids=["canceling", "sigint_held"])
@JOBS
def test_a_terminate_between_two_steps_stops_the_next_one_before_it_begins(
    simulator, data_home, tmp_path, monkeypatch, job_name, held_signal
):
    """Terminate while Dagster records the success of the groups transform, outside any step's body:
    Dagster holds the SIGINT until the next step's body is called (or, "canceling", it is not sent yet)."""
    _use_simulator_for_runs(monkeypatch, simulator)
    sync_file = tmp_path / "sync.c1z"
    with dg.instance_for_test() as instance:
        first, previous, published = _first_sync(instance, job_name, tmp_path)

        handle_new_event = instance.handle_new_event
        sent = []

        def terminate_on_success(event, *args, **kwargs):
            handle_new_event(event, *args, **kwargs)
            dagster_event = event.dagster_event
            if (
                not sent
                and dagster_event is not None
                and dagster_event.is_step_success
                and dagster_event.step_key == "c1_staging__groups"
            ):
                sent.append(True)
                [run] = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
                instance.report_run_canceling(run)
                if held_signal:
                    signal.raise_signal(signal.SIGINT)

        monkeypatch.setattr(instance, "handle_new_event", terminate_on_success)
        run_id = _run(instance, job_name, tmp_path)

        assert sent
        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.CANCELED
        started = [e.step_key for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START)]
        failures = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
        [canceled] = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_CANCELED)
        plan = [e.step_key for e in instance.all_logs(first, of_type=dg.DagsterEventType.STEP_START)]

    next_step = plan[plan.index("c1_staging__groups") + 1]  # Dagster's order, as in the first run
    # the next step stopped before it began, with the same kind of line; nothing after it ran
    assert started == ["xmatters_raw", "c1_staging__groups", next_step]
    [failure] = failures
    line = (
        f"Run stopped by the user (Terminate) during step {next_step}: nothing was published; "
        f"the previous {sync_file} and c1 tables are kept; the steps after it did not run."
    )
    assert failure.dagster_event.step_failure_data.user_failure_data.description == line
    assert canceled.dagster_event.event_specific_data.error is None
    assert canceled.dagster_event.message == f"Run was canceled. Failed steps: ['{next_step}']."
    assert sync_file.read_bytes() == previous
    assert _published(tmp_path) == published


def test_a_terminate_while_dlt_extracts_is_the_same_one_line(simulator, data_home, tmp_path, monkeypatch):
    """The Terminate clicked while the raw step waits on a slow `/people`: dlt wrapped the interrupt
    (`PipelineStepFailed` over "generator already executing" over the interrupt), so the step's
    failure read `DagsterExecutionStepExecutionError` over dlt's traceback, and the run went on to log
    "Dependencies for step ... Not executing." for each of the other twelve steps."""
    use_simulator(monkeypatch, simulator)
    for name in ("TERMINATE_TEST_WAREHOUSE", "TERMINATE_TEST_DLT", "TERMINATE_TEST_SYNC_FILE"):
        monkeypatch.setenv(name, "")
    simulator.faults = Faults(rules=[FaultRule("slow", path_contains="/people", delay_s=30.0, times=None)])
    with dg.instance_for_test() as instance:
        clicked = threading.Thread(target=_terminate_once_the_raw_step_waits, args=(instance,), daemon=True)
        clicked.start()
        run_id = _run(instance, SYNC_JOB_NAME, tmp_path)
        clicked.join(timeout=60)
        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.CANCELED
        [failure] = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
        errors = [m for m in _messages(instance, run_id) if "Dependencies for step" in m]

    assert failure.step_key == "xmatters_raw"
    assert failure.dagster_event.step_failure_data.user_failure_data.description == (
        "Run stopped by the user (Terminate) during step xmatters_raw: nothing was published; "
        f"the previous {tmp_path / 'sync.c1z'} and c1 tables are kept; the steps after it did not run."
    )
    assert errors == []
    assert not (tmp_path / "sync.c1z").exists()


def _terminate_once_the_raw_step_waits(instance: dg.DagsterInstance) -> None:
    """The person's click: once the raw step has started (and waits on `/people`), canceling, then
    SIGINT to the run's main thread, as the run worker receives it."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        runs = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
        if runs and instance.all_logs(runs[0].run_id, of_type=dg.DagsterEventType.STEP_START):
            time.sleep(2.0)  # into the extract: `/people` answers after 30 s
            instance.report_run_canceling(runs[0])
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
            return
        time.sleep(0.2)
