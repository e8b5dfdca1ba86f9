"""A run of the code location terminated (the UI's Terminate) while `c1_sync` publishes.

Dagster terminates a UI or schedule run by sending its run worker SIGINT, and its handler raises
`DagsterExecutionInterruptedError` in the step at once, wherever the main thread is. Clicked in the
UI while `c1_sync` committed the `c1` tables, the interrupt landed in DuckDB's COMMIT ("Query
interrupted", after the commit had gone through): the warehouse recorded the new sync as published,
the `.pending` file was removed and the previous `.c1z` stayed, a mix of two syncs that the next
sync's change history then built on. The CLI waits for the commit and the rename; so must a run of
the code location.

The signal is sent exactly where the UI's Terminate landed: as the commit returns.
"""

from __future__ import annotations

import signal

import dagster as dg
import duckdb
import pytest

from orchestration import publish
from orchestration.definitions import build_definitions
from orchestration.jobs import SYNC_JOB_NAME
from orchestration.resources import SyncSettings, WarehouseResource
from pipelines.c1z.reader import open_c1z
from tests.orchestration.conftest import use_simulator


def _published_sync_ids(warehouse: str) -> list[str]:
    with duckdb.connect(warehouse, read_only=True) as con:
        rows = con.execute("SELECT sync_id FROM c1.sync_runs ORDER BY published_at").fetchall()
    return [row[0] for row in rows]


def _file_sync_id(path) -> str:
    with open_c1z(path) as reader:
        return reader.sync_id


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_run_terminated_as_the_commit_returns_publishes_the_file_with_the_tables(
    simulator, data_home, tmp_path, monkeypatch, signum
):
    use_simulator(monkeypatch, simulator)
    sync_file = tmp_path / "sync.c1z"
    warehouse = str(tmp_path / "wh.duckdb")
    defs = build_definitions(
        {
            "warehouse": WarehouseResource(database=warehouse, dlt_pipelines_dir=str(tmp_path / "dlt")),
            "sync_settings": SyncSettings(sync_file=str(sync_file)),
        }
    )
    job = defs.resolve_job_def(SYNC_JOB_NAME)
    with dg.instance_for_test() as instance:
        assert job.execute_in_process(instance=instance).success
        first = _file_sync_id(sync_file)
        assert _published_sync_ids(warehouse) == [first]

        commit = publish.StagedPublish.commit

        def commit_then_terminate(self, *args, **kwargs):  # the Terminate arrives as COMMIT returns
            commit(self, *args, **kwargs)
            signal.raise_signal(signum)

        monkeypatch.setattr(publish.StagedPublish, "commit", commit_then_terminate)
        result = job.execute_in_process(instance=instance, raise_on_error=False)

    assert not result.success  # the run is stopped: c1_access_changes does not run
    failure = result.get_step_failure_events()[0]
    assert failure.step_key == "c1_sync"
    published = _published_sync_ids(warehouse)
    assert len(published) == 2, published  # the commit went through ...
    # ... and the step says so (not marked canceling here, as a signal from outside the UI)
    assert failure.step_failure_data.user_failure_data.description == (
        f"Run interrupted during step c1_sync: sync {published[-1]} was published first "
        f"({sync_file} and the c1 tables, together); the steps after it did not run."
    )
    assert _file_sync_id(sync_file) == published[-1] != first  # ... and the file is its sync
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("sync.c1z", ".sync.c1z"))) == [
        "sync.c1z"
    ]
