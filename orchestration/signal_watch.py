"""Signals acted on by a watcher thread, not by a handler on the main thread.

Python runs signal handlers on the main thread between bytecodes, wherever it is: inside a lock it
holds (`threading.Event.wait`: a handler calling `set()` took the same lock and deadlocked the
service), in a generator dlt is running ("generator already executing"), in DuckDB. So the handler
does nothing, and `signal.set_wakeup_fd` writes each signal's number to a pipe as it arrives (in C,
no lock); a thread reading the pipe acts on it. Used by the CLI's interrupts (`interrupts.py`) and
the service's stop (`service/stop_signals.py`).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager


@contextmanager
def watching_signals(
    signals: Iterable[signal.Signals], on_signal: Callable[[signal.Signals], None], name: str
) -> Iterator[None]:
    """Within the block, each of `signals` calls `on_signal(signum)` on a thread named `name`.

    Enter from the main thread (Python sets signal handlers only there).
    """
    watched = frozenset(signals)
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    previous_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    # a Python-level handler must exist for the wakeup byte to be written; it does nothing itself
    previous = {signum: signal.signal(signum, leave_to_watcher) for signum in watched}
    watcher = threading.Thread(target=_watch, args=(read_fd, watched, on_signal), name=name, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        signal.set_wakeup_fd(previous_fd)
        os.close(write_fd)  # the watcher reads end-of-file and returns
        watcher.join()
        os.close(read_fd)


def leave_to_watcher(signum: int, frame: object) -> None:
    """The handler in place within `watching_signals`: the watcher thread acts on the signal."""


def _watch(
    read_fd: int, watched: frozenset[signal.Signals], on_signal: Callable[[signal.Signals], None]
) -> None:
    while True:
        try:
            data = os.read(read_fd, 16)
        except InterruptedError:
            continue
        if not data:
            return
        for byte in data:
            if byte in watched:
                on_signal(signal.Signals(byte))
