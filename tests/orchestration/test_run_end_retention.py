"""Every run of the code location prunes the run history at its end, a failed one too.

Failed runs of the UI, the schedule or a re-execution were pruned only by the next CLI sync or the
next sync that published: a schedule failing on an expired password, with no CLI run beside it,
kept every one of its runs (orchestration/run_end_retention.py).
"""

from __future__ import annotations

import dagster as dg

from orchestration import run_tags
from orchestration.definitions import build_definitions
from orchestration.jobs import SYNC_JOB_NAME
from orchestration.resources import SyncSettings
from orchestration.run_outcome import failure_line
from orchestration.run_warehouse import WAREHOUSE, warehouse_path
from orchestration.sync_command import ensure_dagster_home
from tests.orchestration.conftest import use_simulator
from tests.orchestration.test_run_retention import TINY, _instance, _run_ids


def test_a_failing_schedule_keeps_its_newest_failures_and_every_run_in_progress(
    make_simulator, data_home, tmp_path, monkeypatch
):
    """Retention 1, the schedule's runs failing on HTTP 401 and no CLI run: the newest failure ends
    keeping the one before it and itself (before the fix every earlier failure stayed). A run another
    process is executing, one starting and one waiting, older than it, are kept."""
    sim = make_simulator(spec=TINY)
    use_simulator(monkeypatch, sim)
    monkeypatch.setenv("BATON_PASSWORD", "expired")
    ensure_dagster_home(data_home / "dagster")
    settings = SyncSettings(sync_file=str(tmp_path / "sync.c1z"), history_retention=1)
    job = build_definitions({"sync_settings": settings}).resolve_job_def(SYNC_JOB_NAME)
    tags = {**run_tags.SCHEDULE, WAREHOUSE: warehouse_path(data_home / "warehouse.duckdb")}
    with _instance(data_home) as instance:
        # the schedule's earlier failures, recorded as finished (one real run below is enough)
        failure = dg.DagsterRunStatus.FAILURE
        older, old = (instance.create_run_for_job(job, status=failure, tags=tags).run_id for _ in range(2))
        running = instance.create_run_for_job(job, status=dg.DagsterRunStatus.STARTED, tags=tags).run_id
        starting = instance.create_run_for_job(job, status=dg.DagsterRunStatus.STARTING, tags=tags).run_id
        waiting = instance.create_run_for_job(job, tags=tags).run_id  # not started yet

        result = job.execute_in_process(instance=instance, tags=run_tags.SCHEDULE, raise_on_error=False)
        assert "HTTP 401" in (failure_line(result.all_events) or ""), failure_line(result.all_events)
        status = instance.get_run_by_id(result.run_id).status
    assert _run_ids(data_home) == {old, result.run_id, running, starting, waiting}
    assert older not in _run_ids(data_home)
    assert status == dg.DagsterRunStatus.FAILURE
