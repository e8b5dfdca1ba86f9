"""Ctrl-C and SIGTERM during a CLI sync: stop at once, lose nothing, say one line.

Python runs signal handlers in the main thread only, between bytecodes. During a sync the main
thread waits in DuckDB, on a dlt future or in a Dagster step, so Ctrl-C was seen late, and the
KeyboardInterrupt it raised landed in whichever generator dlt was running ("generator already
executing") while dlt's worker threads kept paging `/people` for minutes. So the signal is taken off
the main thread: `signal.set_wakeup_fd` wakes a watcher thread the moment it arrives, and the
watcher ends the process itself. Requests stop (`pipelines/halt.py`) and the worker processes are
frozen, so no request follows the signal beyond those in flight and nothing records a failure; the
callbacks registered with `at_interrupt` run (side by side, bounded); the workers are killed; one line is
printed; the process exits 130 (SIGINT) or 143 (SIGTERM).

Ending the process this way loses nothing that was published: the new `.c1z` is still
`<file>.pending` (removed by a callback), and the `c1` tables are replaced in one DuckDB transaction
that is gone with the process unless it committed. The only moment worth waiting for is
`publishing()`, between that commit and the rename of the file, so the two stay together.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

from orchestration.blocked_writes import wait_for_blocked_writes
from orchestration.console_script import INTERRUPTED
from orchestration.signal_watch import leave_to_watcher, watching_signals
from pipelines import halt
from pipelines.child_processes import signal_all_children

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}
MESSAGE = INTERRUPTED  # also said by the console script before this module is imported
PUBLISH_WAIT_S = 3.0  # the longest an interrupt waits for a commit + rename under way
CALLBACKS_WAIT_S = 1.5  # the longest the callbacks may take (they touch SQLite and files)
WRITES_WAIT_S = 1.0  # the longest the message waits for a write to stdout/stderr under way
WRITES_SETTLE_S = 0.05  # the shortest: for a write on its way in (orchestration/blocked_writes.py)
LINE_WAIT_S = 0.5  # the longest the message itself may take to write: its reader may never read
_STDOUT_AND_STDERR = frozenset({1, 2})

_callbacks: list[Callable[[], None]] = []
_published: list[str] = []  # what this process's sync published (`note_published`)
_callbacks_lock = threading.Lock()
_publishing = threading.Lock()


@contextmanager
def exit_on_signal() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM end the process as the module docstring says.

    Must be entered from the main thread (Python only sets signal handlers there).
    """
    with _callbacks_lock:
        _published.clear()  # a sync of this block has published nothing yet
    # the main thread never raises KeyboardInterrupt into dlt's or Dagster's machinery
    with watching_signals(EXIT_CODES, _interrupt, "interrupt-watcher"):
        yield


@contextmanager
def at_interrupt(callback: Callable[[], None]) -> Iterator[None]:
    """Runs `callback` if the process is interrupted within the block (before it exits)."""
    with _callbacks_lock:
        _callbacks.append(callback)
    try:
        yield
    finally:
        with _callbacks_lock:
            _callbacks.remove(callback)


@contextmanager
def publishing() -> Iterator[None]:
    """Marks the commit of the published tables and the rename of the file: an interrupt waits for it.

    Under `exit_on_signal` (the CLI) the watcher thread waits for the lock. Elsewhere (a run of the
    code location: the UI's Terminate, the schedule's run stopped) SIGINT and SIGTERM are held on the
    main thread for the block and delivered after it (`_signals_held`).
    """
    with _publishing, _signals_held():
        yield


@contextmanager
def _signals_held() -> Iterator[None]:
    """Within the block SIGINT and SIGTERM are only noted; on leaving it they go to the handlers in place.

    Dagster terminates a run of the code location by sending its run worker SIGINT, and its handler
    raises `DagsterExecutionInterruptedError` at once, wherever the main thread is. The UI's Terminate
    landed in DuckDB's COMMIT of the `c1` tables after it had gone through: the warehouse recorded
    the new sync, the `.pending` file was removed and the previous `.c1z` stayed. Held, the signal
    arrives after the rename, and the run is stopped there with the new sync complete, as the CLI's.
    Nothing to do under `exit_on_signal`, whose handler already does nothing, or off the main thread,
    where Python runs no signal handler.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    current = {signum: signal.getsignal(signum) for signum in EXIT_CODES}
    if any(handler is leave_to_watcher for handler in current.values()):
        yield
        return
    held: list[int] = []

    def hold(signum: int, frame: object) -> None:
        held.append(signum)

    replaced = {
        signum: signal.signal(signum, hold) for signum, handler in current.items() if handler is not None
    }
    try:
        yield
    finally:
        for signum, handler in replaced.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(held):
            signal.raise_signal(signum)


def _interrupt(signum: signal.Signals) -> None:
    # Everything that could send a request or record a failure stands still first; then the Dagster
    # run is marked canceled and the temporaries removed (callbacks); then the process ends.
    halt.halt()
    signal_all_children(signal.SIGSTOP)
    silenced = _silence()  # nothing is said after this but the line
    _publishing.acquire(timeout=PUBLISH_WAIT_S)  # held until the exit: no commit starts after this
    _say(silenced, _line())  # after the wait: a publish it waited for is told
    with _callbacks_lock:
        callbacks = list(_callbacks)
    _run_all(callbacks, CALLBACKS_WAIT_S)
    signal_all_children(signal.SIGKILL)
    os._exit(EXIT_CODES[signum])


def _line() -> str:
    """The interrupt's line; once this process's sync was published, it says so (the publish's own
    line was silenced, or came before a signal that found the sync already in place)."""
    with _callbacks_lock:
        published = _published[-1] if _published else None
    return MESSAGE if published is None else f"{MESSAGE}; {published}"


def note_published(what: str) -> None:
    """`what` (e.g. "sync <id> was published first (<file> and the c1 tables, together)") is in place:
    an interrupt from now on says so. Called within `publishing()`, after the rename."""
    with _callbacks_lock:
        _published.append(what)


def _say_last(line: str, within_s: float = WRITES_WAIT_S) -> None:
    """Writes `line` to stderr as its last line: stdout and stderr are pointed at /dev/null first."""
    _say(_silence(within_s), line)


@dataclass
class _Silenced:
    original: int | None  # a copy of the original stderr, for the line; None if it could not be made
    deadline: float  # of the wait for writes under way at the silence


def _silence(within_s: float = WRITES_WAIT_S) -> _Silenced:
    """Flushes stdout and stderr, then points both at /dev/null; `_say` writes the last line.

    In that order, because the main thread is not stopped: a publish under way finishes (the wait
    for it) and logs that it did, and before, a line it logged between the message and the silence
    came after the message. The message goes to a copy of the original stderr, closed after it.

    A write begun before the silence is not stopped by it, and one blocked behind a slow reader
    finished after the line (`make test`, under load: "step 6657" after the message, the chatty test
    child blocked on its full stderr pipe). So the line waits for such writes, `within_s` at most.

    No step may block for good: stderr can be a pipe whose reader never reads (`... 2>&1 | (sleep
    1000)`, a pager left open, a terminal stopped with Ctrl-S). Once that pipe was full, the line's
    write slept on it and the process never exited (still running 30 s after SIGINT); a flush of
    text still buffered (stdout, block-buffered in a pipe) would sleep so too. So the flushes and
    the line are written on threads of their own, waited for within `within_s` and `LINE_WAIT_S`;
    one still asleep then is given up (the exit ends it) and the line is lost, which its reader,
    not reading, does not see.
    """
    deadline = time.monotonic() + within_s
    _within(_flush_stdout_and_stderr, within_s)
    try:
        original = os.dup(2)
    except OSError:
        return _Silenced(None, deadline)
    with suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.close(devnull)
    return _Silenced(original, deadline)


def _say(silenced: _Silenced, line: str) -> None:
    """`line` to the original stderr, once the writes begun before the silence ended (or its deadline)."""
    original = silenced.original
    if original is None:
        return
    try:
        wait_for_blocked_writes(
            _STDOUT_AND_STDERR, WRITES_SETTLE_S, max(0.0, silenced.deadline - time.monotonic())
        )
        _within(lambda: _write_all(original, (line + "\n").encode()), LINE_WAIT_S)
    finally:
        with suppress(OSError):
            os.close(original)  # a write still asleep keeps the pipe: closing the number does not wake it


def _flush_stdout_and_stderr() -> None:
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):
            stream.flush()


def _write_all(fd: int, data: bytes) -> None:
    with suppress(OSError):
        while data:
            data = data[os.write(fd, data) :]


def _within(action: Callable[[], None], within_s: float) -> bool:
    """Runs `action` on a daemon thread; True if it ended within `within_s` (else it is left asleep)."""
    thread = threading.Thread(target=_run_quietly, args=(action,), name="interrupt-output", daemon=True)
    thread.start()
    thread.join(within_s)
    return not thread.is_alive()


def _run_all(callbacks: list[Callable[[], None]], within_s: float) -> None:
    """Runs the callbacks side by side, each on its own thread, and waits `within_s` at most for all.

    Side by side, not one after the other: they are independent, and one stuck behind the disk must
    not keep the others from running. Marking the Dagster run canceled commits to SQLite, whose fsync
    can wait seconds behind the warehouse's checkpoint under way beside the write; in a row, removing
    the scratch files (an unlink each) came after it and was cut off by the deadline, leaving a
    `.db.tmp` of up to hundreds of MB beside the target until the next sync.
    """
    threads = [threading.Thread(target=_run_quietly, args=(callback,), daemon=True) for callback in callbacks]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + within_s
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))


def _run_quietly(callback: Callable[[], None]) -> None:
    with suppress(Exception):
        callback()
