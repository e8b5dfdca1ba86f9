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

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from orchestration.signal_watch import watching_signals

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """Within the block, SIGTERM and SIGINT set the Event yielded. Enter from the main thread."""
    stop = threading.Event()
    with watching_signals(STOP_SIGNALS, lambda _signum: stop.set(), "stop-signals"):
        yield stop
