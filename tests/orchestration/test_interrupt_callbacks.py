"""The interrupt's callbacks, in a real process that gets a real SIGINT (`orchestration/interrupts.py`).

A CLI sync registers two: marking the Dagster run canceled (a SQLite commit, whose fsync can wait
seconds behind the warehouse's checkpoint) and removing the `.c1z` writer's scratch files. One
stuck callback must not keep the other from running before the process ends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from contextlib import suppress
from pathlib import Path

import pytest

from orchestration.blocked_writes import kernel_says
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


BLOCKED_WRITER_CHILD = textwrap.dedent(
    """
    import os, select, sys, threading, time
    from orchestration import interrupts

    line = "x" * int(sys.argv[1])
    started = threading.Event()

    def log_a_long_line() -> None:
        started.set()
        sys.stderr.write(line + "\\n")  # line-buffered or unbuffered: written at once, to a pipe not read yet

    threading.Thread(target=log_a_long_line, daemon=True).start()
    started.wait()
    while select.select([], [2], [], 0)[1]:  # until the pipe is full: the write is under way, blocked
        time.sleep(0.001)
    print("blocked", flush=True)
    interrupts._say_last(interrupts.MESSAGE, within_s=60)
    os._exit(130)  # as the interrupt does, the writer wherever it is
    """
)


@pytest.mark.skipif(not kernel_says(), reason="no /proc/self/task/*/syscall: the message cannot wait")
def test_the_message_waits_for_a_line_being_written_when_the_output_is_silenced() -> None:
    """The window in which the test above failed now and then, held open: a thread's write to stderr
    is under way (blocked on a full pipe, as behind a slow reader) when the interrupt silences
    stderr and says its line.

    Silencing fd 2 does not stop that write. Before `_say_last` waited for it, the message was
    written beside it, landed amid the long line and the exit cut the rest: the last line was x's
    (every run). The test above failed so when its child was blocked on its full stderr pipe (the
    parent reads it only after the signal) as the interrupt began: "step 6657" after the message.
    """
    size = 1 << 18  # four times what the pipe holds
    child = subprocess.Popen(
        [sys.executable, "-c", BLOCKED_WRITER_CHILD, str(size)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "blocked\n"
        time.sleep(0.2)  # the child silences stderr and says its line meanwhile (or waits to)
        _, stderr = child.communicate(timeout=30)
    finally:
        child.kill()
    assert child.returncode == 130, stderr[-300:]
    assert stderr == "x" * size + "\n" + MESSAGE + "\n", (len(stderr), stderr.find(MESSAGE), stderr[-100:])


STUCK_READER_CHILD = textwrap.dedent(
    """
    import sys, threading, time
    from orchestration import interrupts

    def log_a_long_line() -> None:  # asleep in its write to the full pipe
        sys.stderr.write("x" * (1 << 18) + "\\n")

    with interrupts.exit_on_signal():
        if sys.argv[1] == "a thread asleep writing":
            threading.Thread(target=log_a_long_line, daemon=True).start()
        print("ready", flush=True)
        time.sleep(60)
    """
)


def _fill(write_fd: int) -> None:
    """Writes to the pipe until not one byte more fits (`select` calls it full with room for a
    line left). Non-blocking meanwhile: a flag of the pipe's open file, which no one else has yet."""
    os.set_blocking(write_fd, False)
    try:
        for size in (512, 1):
            with suppress(BlockingIOError):
                while True:
                    os.write(write_fd, b"y" * size)
    finally:
        os.set_blocking(write_fd, True)


@pytest.mark.parametrize("case", ["full", "a thread asleep writing"])
def test_ctrl_c_ends_the_process_when_no_one_reads_stderr(case: str) -> None:
    """stderr a pipe whose reader never reads (`baton-xmatters 2>&1 | (sleep 1000)` once the pipe
    is full, a pager left open), with or without another thread asleep writing to it: the
    interrupt's line slept in its write on the full pipe and the process never exited (both cases
    seen: still running 30 s after SIGINT). Its line cannot be read; the exit must not wait for it."""
    read_fd, write_fd = os.pipe()
    try:
        _fill(write_fd)
        child = subprocess.Popen(
            [sys.executable, "-c", STUCK_READER_CHILD, case],
            stdout=subprocess.PIPE,
            stderr=write_fd,
            text=True,
        )
        try:
            assert child.stdout is not None and child.stdout.readline() == "ready\n"
            time.sleep(0.2)  # the thread is asleep in its write
            child.send_signal(signal.SIGINT)
            code = child.wait(timeout=30)
        finally:
            child.kill()
            child.wait()
        assert code == 130
    finally:
        os.close(write_fd)
        os.close(read_fd)
