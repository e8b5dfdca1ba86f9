"""A process-wide halt for a sync that is about to exit (Ctrl-C, SIGTERM).

After `halt()`, a thread that is about to send a request (or start a worker process) parks instead:
it neither sends the request nor raises. Raising would be seen by dlt and Dagster as a failure of
the extract, and they would record that failure in the moments before the process exits; parked
threads record nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_halted = threading.Event()
_never = threading.Event()
_creating = threading.Lock()  # held by `halt()` and by `unless_halted` blocks


def halt() -> None:
    """No request is sent by this process after this call (those in flight finish or are cut), and no
    `unless_halted` block is under way or begins."""
    with _creating:
        _halted.set()


@contextmanager
def unless_halted() -> Iterator[None]:
    """Runs the block only if the process has not halted; once it has, parks instead (never returns).

    For creating temporary files: the interrupt removes them after `halt()` returns, so a file made
    in such a block exists by then, and none is made after. Without it the writer's scratch file
    could appear between the clean-up and the exit and stay beside the target. Keep blocks short.
    """
    _creating.acquire()
    if _halted.is_set():
        _creating.release()
        _never.wait()
    try:
        yield
    finally:
        _creating.release()


def park_if_halted() -> None:
    """Called before every request and worker start: returns at once, or never once the process halted."""
    if _halted.is_set():
        _never.wait()
