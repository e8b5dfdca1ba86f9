"""The interrupt's callbacks, in a real process that gets a real SIGINT (`orchestration/interrupts.py`).

A CLI sync registers two: marking the Dagster run canceled (a SQLite commit, whose fsync can wait
seconds behind the warehouse's checkpoint) and removing the `.c1z` writer's scratch files. One
stuck callback must not keep the other from running before the process ends.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from orchestration.interrupts import CALLBACKS_WAIT_S, MESSAGE

CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from orchestration import interrupts

    marker = Path(sys.argv[1])
    def stuck() -> None:
        time.sleep(60)
    with interrupts.exit_on_signal(), interrupts.at_interrupt(marker.touch), interrupts.at_interrupt(stuck):
        print("ready", flush=True)
        time.sleep(60)
    """
)


def test_a_stuck_callback_does_not_keep_the_others_from_running(tmp_path: Path) -> None:
    marker = tmp_path / "removed-the-scratch-files"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(marker)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
        signalled = time.monotonic()
        child.send_signal(signal.SIGINT)
        code = child.wait(timeout=30)
        took = time.monotonic() - signalled
    finally:
        child.kill()
    stderr = child.stderr.read() if child.stderr is not None else ""
    assert code == 130, stderr
    assert stderr.strip().splitlines()[-1] == MESSAGE
    # the stuck one (registered last, so first in line before) was given up on after the deadline
    assert took >= CALLBACKS_WAIT_S * 0.9, took
    assert marker.exists(), "the other callback did not run before the process ended"


CHATTY_CHILD = textwrap.dedent(
    """
    import sys
    from orchestration import interrupts

    with interrupts.exit_on_signal():
        print("ready", flush=True)
        n = 0
        while True:  # the main thread logs on while the interrupt ends the process
            n += 1
            sys.stderr.write(f"step {n}\\n")
            sys.stderr.flush()
    """
)


def test_the_message_is_the_last_line_while_the_main_thread_logs_on() -> None:
    for _ in range(5):
        child = subprocess.Popen(
            [sys.executable, "-c", CHATTY_CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            assert child.stdout is not None and child.stdout.readline() == "ready\n"
            time.sleep(0.2)
            child.send_signal(signal.SIGINT)
            _, stderr = child.communicate(timeout=30)
        finally:
            child.kill()
        assert child.returncode == 130, stderr[-500:]
        assert stderr.splitlines()[-1] == MESSAGE, stderr[-300:]
