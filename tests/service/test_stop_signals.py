"""SIGTERM while the service's main thread is inside `stop.wait()` (orchestration/service/stop_signals.py).

The service's loop waits on the stop Event between polls, heartbeats and Hello retries, on the main
thread, where Python runs signal handlers. A handler that set that Event deadlocked when the signal
came while the main thread held the Event's lock (inside `wait()`, before it sleeps or after it
woke): `set()` takes that lock, which is not reentrant. The loop here stays in that window as much
as it can, so the deadlock (a service that never stops, until `podman stop`'s SIGKILL) shows at once.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

CHILD = textwrap.dedent(
    """
    from orchestration.service.stop_signals import stop_on_signals

    with stop_on_signals() as stop:
        print("ready", flush=True)
        while not stop.wait(0):  # the main thread in and out of the Event's lock, as the loop's waits
            pass
    print("stopped", flush=True)
    """
)
SERVICES = 20  # each deadlocked about one time in three with the handler that set the Event


def test_sigterm_inside_the_stop_wait_stops_every_time() -> None:
    children = [
        subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True)
        for _ in range(SERVICES)
    ]
    hung = 0
    try:
        for child in children:
            assert child.stdout is not None and child.stdout.readline() == "ready\n"
        for child in children:
            child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30  # for all: a deadlocked one never stops
        for child in children:
            try:
                out, _ = child.communicate(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                hung += 1
                continue
            assert (child.returncode, out) == (0, "stopped\n")
    finally:
        for child in children:
            child.kill()
            child.wait()
    assert hung == 0, f"{hung} of {SERVICES} deadlocked in the SIGTERM handler"
