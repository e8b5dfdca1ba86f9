"""Every way Dagster materializes the assets runs them in one process, against DuckDB's single writer.

The UI's "Materialize all" (Lineage, Catalog), an asset's own page and `dagster asset materialize`
launch Dagster's implicit asset job, not `xmatters_sync`; with the default multiprocess executor its
steps fought over the warehouse's lock and the run failed. These run the real `dagster` CLI.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef

from orchestration.definitions import build_definitions
from orchestration.jobs import SYNC_JOB_NAME
from orchestration.stopping_executor import stopping_in_process_executor
from orchestration.sync_command import ensure_dagster_home
from simulator import Org, XmattersSimulator
from tests.orchestration.conftest import expected_from_org, read_sync

REPO_ROOT = Path(__file__).resolve().parents[2]
DAGSTER = str(Path(sys.executable).parent / "dagster")


def test_every_job_of_the_location_runs_in_process() -> None:
    defs = build_definitions()
    implicit = defs.resolve_implicit_global_asset_job_def()
    # Dagster's in-process executor, which also ends a Terminated run at once (stopping_executor.py)
    assert implicit.executor_def is stopping_in_process_executor
    assert defs.resolve_job_def(SYNC_JOB_NAME).executor_def is stopping_in_process_executor
    schedule = defs.resolve_schedule_def("xmatters_sync_daily")
    assert schedule.job_name == SYNC_JOB_NAME


@pytest.fixture
def dagster_env(simulator: XmattersSimulator, tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "dagster"
    ensure_dagster_home(home)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BATON_", "DAGSTER_"))}
    env.update(
        DAGSTER_HOME=str(home),
        BATON_XMATTERS_HOME=str(tmp_path / "data"),
        BATON_FILE=str(tmp_path / "sync.c1z"),
        BATON_BASE_URL=simulator.base_url,
        BATON_USERNAME=simulator.username,
        BATON_PASSWORD=simulator.password,
        NO_PROXY="127.0.0.1",
    )
    return env


def _dagster(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DAGSTER, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def _steps(env: dict[str, str], kind: dg.DagsterEventType) -> set[str]:
    """The steps with a `kind` event in the newest run, read back from the run history.

    Not from the console: `dagster` mirrors each step's captured output to it through a `tail -F`
    process that it stops at the step's end, and under load the last step's last lines were lost
    (a run with RUN_SUCCESS printed no `Finished execution of step "c1_access_changes"`; Dagster's
    issue 23336).
    """
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(env["DAGSTER_HOME"])) as instance:
        newest = instance.get_runs(limit=1)[0]
        assert newest.status == dg.DagsterRunStatus.SUCCESS, newest.status
        return {event.step_key for event in instance.all_logs(newest.run_id, of_type=kind) if event.step_key}


def _succeeded(result: subprocess.CompletedProcess[str], env: dict[str, str], *steps: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "STEP_FAILURE" not in output, output[-4000:]
    assert set(steps) <= _steps(env, dg.DagsterEventType.STEP_SUCCESS), output[-4000:]


def test_materialize_all_then_a_subset_then_the_job(
    dagster_env: dict[str, str], org: Org, tmp_path: Path
) -> None:
    everything = _dagster(
        dagster_env, "asset", "materialize", "-m", "orchestration.definitions", "--select", "*"
    )
    _succeeded(everything, dagster_env, "c1_staging__users", "c1_sync", "c1_access_changes")
    assert read_sync(tmp_path / "sync.c1z").grants == expected_from_org(org).grants

    # The staged tables alone, from the raw tables the first run left (no request, no publish).
    written = (tmp_path / "sync.c1z").stat().st_mtime_ns
    staged = _dagster(
        dagster_env,
        "asset",
        "materialize",
        "-m",
        "orchestration.definitions",
        "--select",
        'key:"c1_staging/*"',
    )
    _succeeded(staged, dagster_env, "c1_staging__users", "c1_staging__grants")
    assert "c1_sync" not in _steps(dagster_env, dg.DagsterEventType.STEP_START)
    assert (tmp_path / "sync.c1z").stat().st_mtime_ns == written

    job = _dagster(dagster_env, "job", "execute", "-m", "orchestration.definitions", "-j", SYNC_JOB_NAME)
    _succeeded(job, dagster_env, "c1_sync")
    assert read_sync(tmp_path / "sync.c1z").grants == expected_from_org(org).grants


def test_a_run_never_renames_the_c1z_over_a_device_or_a_pipe(
    dagster_env: dict[str, str], tmp_path: Path
) -> None:
    """`BATON_FILE=/dev/null` (as root) replaced the device node with the sync file: the `.c1z` is
    renamed over its path. c1_sync now refuses anything but a regular file; a FIFO stands in here."""
    fifo = tmp_path / "pipe.c1z"
    os.mkfifo(fifo)
    job = _dagster(
        {**dagster_env, "BATON_FILE": str(fifo)},
        "job",
        "execute",
        "-m",
        "orchestration.definitions",
        "-j",
        SYNC_JOB_NAME,
    )
    output = job.stdout + job.stderr
    assert job.returncode != 0 and "STEP_FAILURE" in output
    assert f"-f/--file: {fifo} is not a regular file (a named pipe)" in output
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert not (tmp_path / "pipe.c1z.pending").exists()
