"""SIGTERM and SIGINT stop the service: a watcher thread sets the `threading.Event` its loop waits on.

Not the signal handler: Python runs handlers on the main thread between bytecodes, and the service's
main thread spends its idle time in that Event's `wait()` (between polls, Hello retries). A handler
that called `stop.set()` while the main thread held the Event's lock (inside `wait()`, before it
sleeps or after it woke) took that same lock, which is not reentrant: the service deadlocked and
never stopped, until `podman stop`'s SIGKILL (tests/service/test_stop_signals.py: 15 of 20 services
in a loop of `stop.wait(0)`). So the handler does nothing; `signal.set_wakeup_fd` writes the signal's
number to a pipe as it arrives (in C, no lock), and a thread reading it sets the Event, as any other
thread would.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """Within the block, SIGTERM and SIGINT set the Event yielded. Enter from the main thread."""
    stop = threading.Event()
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    previous_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    # a Python-level handler must exist for the wakeup byte to be written; it does nothing itself
    previous = {sig: signal.signal(sig, _leave_to_watcher) for sig in STOP_SIGNALS}
    watcher = threading.Thread(target=_watch, args=(read_fd, stop), name="stop-signals", daemon=True)
    watcher.start()
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(previous_fd)
        os.close(write_fd)  # the watcher reads end-of-file and returns
        watcher.join()
        os.close(read_fd)


def _leave_to_watcher(signum: int, frame: object) -> None:
    """The watcher thread sets the Event; the main thread carries on, its wait then ends."""


def _watch(read_fd: int, stop: threading.Event) -> None:
    while True:
        try:
            data = os.read(read_fd, 16)
        except InterruptedError:
            continue
        if not data:
            return
        if any(byte in STOP_SIGNALS for byte in data):
            stop.set()
