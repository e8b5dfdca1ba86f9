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
import json
import threading

import pyarrow as pa

from expectations.outcome import SuiteOutcome
from pipelines.child_processes import ChildProcess


class WorkerError(RuntimeError):
    """The worker could not validate: it died, or its suite or the validation raised."""


class ValidationWorker:
    """One `python -m expectations.worker` child and its pipes; one request at a time."""

    def __init__(self) -> None:
        self._child = ChildProcess("expectations.worker")
        self._lock = threading.Lock()

    @property
    def pid(self) -> int:
        return self._child.pid

    def alive(self) -> bool:
        return self._child.alive()

    def validate(self, table: str, rows: pa.RecordBatchReader | pa.Table) -> tuple[SuiteOutcome, int]:
        """(outcome, rows sent): the suite `table` over `rows`, streamed to the worker batch by batch."""
        batches = rows.to_reader() if isinstance(rows, pa.Table) else rows
        process = self._child.process
        assert process.stdin is not None and process.stdout is not None
        with self._lock:
            sent = 0
            try:
                process.stdin.write(json.dumps({"table": table}).encode() + b"\n")
                with pa.ipc.new_stream(process.stdin, batches.schema) as stream:
                    for batch in batches:
                        stream.write_batch(batch)
                        sent += batch.num_rows
                process.stdin.flush()
                line = process.stdout.readline()
            except OSError:  # a broken pipe (pyarrow's IO errors are OSError too)
                line = b""
            except BaseException:
                # the rows failed mid-stream (a query error): the worker may answer a half-sent
                # table, so its replies are out of step; end it, the next request starts a new one
                process.kill()
                raise
            if not line:
                raise WorkerError(self._death_notice(f"validating {table}"))
        reply = json.loads(line)
        if not reply["ok"]:
            raise WorkerError(reply["error"])
        return SuiteOutcome.from_dict(reply["outcome"]), sent

    def stop(self) -> None:
        """Ends the worker at once: it holds nothing worth waiting for.

        A sync that fails early (bad credentials) exits while the worker may still be importing
        GX; it would only read the closed pipe after that import, seconds later.
        """
        self._child.stop()

    def _death_notice(self, doing: str) -> str:
        code, last = self._child.exit_status()
        return f"the expectations worker (pid {self.pid}) exited with code {code} while {doing}: {last}"


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
