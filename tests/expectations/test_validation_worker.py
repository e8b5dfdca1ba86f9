"""The expectations worker process: same verdicts as the in-process runner, clear errors, no secrets."""

from __future__ import annotations

import os
import signal

import pyarrow as pa
import pytest

from expectations import validation_worker
from expectations.runner import validate
from expectations.validation_worker import ValidationWorker, WorkerError
from pipelines.child_processes import child_environment

DIRTY_USERS = pa.table(
    {
        "user_id": ["u1", "u1", None],
        "display_name": ["a", "", "c"],
        "status": ["ENABLED", "ACTIVE", "DISABLED"],
    }
)


@pytest.fixture(scope="module")
def worker():
    started = ValidationWorker()
    yield started
    started.stop()


def test_worker_reaches_the_verdicts_of_the_in_process_runner(worker):
    clean = pa.table({"user_id": ["u1", "u2"], "display_name": ["Ada", "bob"], "status": ["ENABLED"] * 2})

    outcome, rows = worker.validate("users", clean)
    assert (outcome.success, outcome.evaluated, rows) == (True, 5, 2)

    outcome, rows = worker.validate("users", DIRTY_USERS.to_reader(max_chunksize=1))  # three batches
    assert rows == 3
    assert outcome == validate("users", DIRTY_USERS.to_pandas())
    status = next(f for f in outcome.failures if f.column == "status")
    assert (status.unexpected_count, status.examples) == (1, ["ACTIVE"])
    missing_id = next(f for f in outcome.failures if f.expectation == "expect_column_values_to_not_be_null")
    assert missing_id.examples == [None]  # JSON-safe, not NaN


def test_a_failing_request_is_reported_and_the_worker_stays_usable(worker):
    with pytest.raises(WorkerError, match="validating no_such_table failed: KeyError"):
        worker.validate("no_such_table", DIRTY_USERS)
    outcome, _ = worker.validate("groups", pa.table({"group_id": ["g1", "g1"], "display_name": ["a", "b"]}))
    assert [(f.expectation, f.column) for f in outcome.failures] == [
        ("expect_column_values_to_be_unique", "group_id")
    ]


def test_a_dead_worker_is_named_and_the_shared_one_restarts():
    dying = validation_worker.shared()
    os.kill(dying.pid, signal.SIGKILL)
    with pytest.raises(
        WorkerError, match=rf"worker \(pid {dying.pid}\) exited with code -9 while validating users"
    ):
        dying.validate("users", DIRTY_USERS)

    replacement = validation_worker.shared()
    assert replacement.pid != dying.pid
    outcome, rows = replacement.validate("users", DIRTY_USERS)
    assert (outcome.success, rows) == (False, 3)


def test_the_worker_gets_no_connector_secrets_and_can_import_the_project():
    env = child_environment(
        {"BATON_PASSWORD": "s3cret", "BATON_USERNAME": "u", "HOME": "/h", "PYTHONPATH": "/x"}
    )
    assert "BATON_PASSWORD" not in env and "BATON_USERNAME" not in env
    assert env["HOME"] == "/h"
    root, rest = env["PYTHONPATH"].split(os.pathsep)
    assert os.path.isfile(os.path.join(root, "expectations", "worker.py")) and rest == "/x"


def test_stopping_a_worker_still_importing_gx_does_not_wait_for_the_import():
    importing = ValidationWorker()  # GX takes seconds to import; stop() comes long before that
    importing.stop()
    assert importing.alive() is False
    assert importing._child.process.returncode == -signal.SIGKILL  # ended, not left to finish the import


def test_rows_failing_mid_stream_end_the_worker_so_replies_never_get_out_of_step():
    def failing_batches():
        yield DIRTY_USERS.to_batches()[0]
        raise ValueError("the query failed half way")

    worker = validation_worker.shared()
    reader = pa.RecordBatchReader.from_batches(DIRTY_USERS.schema, failing_batches())
    with pytest.raises(ValueError, match="half way"):
        worker.validate("users", reader)
    worker._child.process.wait()
    assert not worker.alive()

    outcome, rows = validation_worker.shared().validate("users", DIRTY_USERS)  # a new worker
    assert (outcome.suite, outcome.success, rows) == ("users", False, 3)


def test_a_worker_that_cannot_import_gx_fails_each_check_with_the_cause(tmp_path, monkeypatch):
    broken = tmp_path / "great_expectations"
    broken.mkdir()
    (broken / "__init__.py").write_text("raise ImportError('a broken GX install')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # shadows the real GX in the worker only

    worker = ValidationWorker()
    try:
        for _ in range(2):  # stays answering: each check names the cause
            with pytest.raises(
                WorkerError, match="preparing the expectation suites failed: ImportError: a broken GX"
            ):
                worker.validate("users", DIRTY_USERS)
    finally:
        worker.stop()


def test_the_resource_keeps_the_worker_for_later_runs_unless_the_process_runs_one():
    """A test session or code server keeps its worker; the CLI's is stopped before the `.c1z` write."""
    from orchestration.resources import ExpectationsResource

    kept = validation_worker.shared()
    ExpectationsResource().checks_done()
    assert kept.alive()
    assert validation_worker.shared() is kept

    ExpectationsResource(stop_after_checks=True).checks_done()
    assert not kept.alive()
    with pytest.raises(ProcessLookupError):
        os.kill(kept.pid, 0)  # reaped, not left as a zombie
    replacement = validation_worker.shared()  # a later check would start a new one
    assert replacement is not kept and replacement.alive()
