"""A process-wide halt for a sync that is about to exit (Ctrl-C, SIGTERM).

After `halt()`, a thread that is about to send a request (or start a worker process) parks instead:
it neither sends the request nor raises. Raising would be seen by dlt and Dagster as a failure of
the extract, and they would record that failure in the moments before the process exits; parked
threads record nothing.
"""

from __future__ import annotations

import threading

_halted = threading.Event()
_never = threading.Event()


def halt() -> None:
    """No request is sent by this process after this call (those in flight finish or are cut)."""
    _halted.set()


def park_if_halted() -> None:
    """Called before every request and worker start: returns at once, or never once the process halted."""
    if _halted.is_set():
        _never.wait()
