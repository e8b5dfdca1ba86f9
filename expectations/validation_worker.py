"""The sync's side of the expectations worker (`worker.py`): start it early, send it tables.

One worker per process, shared by the runs of that process (the CLI runs one; a test session
runs many and pays for the GX import once). Its owner in a run is `ExpectationsResource`
(orchestration/resources.py), which starts it, sends it the tables and stops it when the run asks
for that; the CLI only calls `start()` earlier, to warm it up. `start()` is cheap and returns at
once: the child imports GX on another core while the caller goes on. A request waits for that import if it is
not done yet. The worker gets the environment without `BATON_*` variables (it needs no secret),
and its output goes to a private file whose last line explains a worker that died.
"""

from __future__ import annotations

import atexit
import threading

import pyarrow as pa

from expectations.outcome import SuiteOutcome
from pipelines.worker_protocol import WorkerDied, WorkerProcess


class WorkerError(RuntimeError):
    """The worker could not validate: it died, or its suite or the validation raised."""


class ValidationWorker:
    """One `python -m expectations.worker` child (`WorkerProcess`); one request at a time."""

    def __init__(self) -> None:
        self._worker = WorkerProcess("expectations.worker", "expectations worker")
        self._child = self._worker.child
        self._lock = threading.Lock()

    @property
    def pid(self) -> int:
        return self._worker.pid

    def alive(self) -> bool:
        return self._worker.alive()

    def validate(self, table: str, rows: pa.RecordBatchReader | pa.Table) -> tuple[SuiteOutcome, int]:
        """(outcome, rows sent): the suite `table` over `rows`, streamed to the worker batch by batch."""
        with self._lock:
            try:
                doing = f"validating {table}"
                sent = self._worker.send("validate", {"table": table}, body=rows, doing=doing)
                reply = self._worker.receive(doing=doing)
            except WorkerDied as exc:
                raise WorkerError(str(exc)) from None
            except BaseException:
                # the rows failed mid-stream (a query error): the worker may answer a half-sent
                # table, so its replies are out of step; end it, the next request starts a new one
                self._child.process.kill()
                raise
        if reply.kind == "error":
            raise reply.error({}, WorkerError)
        return SuiteOutcome.from_dict(reply.fields["outcome"]), sent

    def stop(self) -> None:
        """Ends the worker at once: it holds nothing worth waiting for.

        A sync that fails early (bad credentials) exits while the worker may still be importing
        GX; it would only read the closed pipe after that import, seconds later.
        """
        self._worker.stop()


_shared: ValidationWorker | None = None
_shared_lock = threading.Lock()


def shared() -> ValidationWorker:
    """This process's worker, started on first use and restarted if it died."""
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.alive():
            if _shared is not None:
                _shared.stop()
            _shared = ValidationWorker()
        return _shared


def start() -> None:
    """Start the worker now so GX is imported by the time the checks run."""
    shared()


@atexit.register
def stop_shared() -> None:
    """Stop this process's worker, if one runs (a later `shared()` starts a new one)."""
    global _shared
    with _shared_lock:
        worker, _shared = _shared, None
    if worker is not None:
        worker.stop()
