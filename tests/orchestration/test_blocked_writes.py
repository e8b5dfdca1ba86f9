"""Waiting for another thread's write under way (`orchestration/blocked_writes.py`), on a real pipe."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import termios
import threading
import time

import pytest

from orchestration.blocked_writes import kernel_says, wait_for_blocked_writes

pytestmark = pytest.mark.skipif(not kernel_says(), reason="no /proc/self/task/*/syscall")


def _bytes_in_pipe(read_fd: int) -> int:
    return struct.unpack("i", fcntl.ioctl(read_fd, termios.FIONREAD, b"\0\0\0\0"))[0]


def test_the_wait_lasts_until_a_write_blocked_on_a_full_pipe_has_ended() -> None:
    """A write four times what the pipe holds, read slowly: its thread runs within the call now and
    then (each time the reader made room), which must not read as the write having ended."""
    read_fd, write_fd = os.pipe()
    fds = frozenset({write_fd})
    size = 1 << 18
    reader: threading.Thread | None = None
    stop = threading.Event()
    try:
        assert wait_for_blocked_writes(fds, settle_s=0.05, within_s=5.0), "nothing under way: no wait"

        writer = threading.Thread(target=os.write, args=(write_fd, b"x" * size), daemon=True)
        writer.start()
        while select.select([], [write_fd], [], 0)[1]:  # until the pipe is full, the write asleep in it
            time.sleep(0.001)
        assert not wait_for_blocked_writes(fds, settle_s=0.05, within_s=0.3), "no reader: still under way"

        received = 0
        reading = threading.Lock()

        def read_slowly() -> None:
            nonlocal received
            while received < size and not stop.is_set():  # never blocks in a read holding the lock
                with reading:
                    chunk = os.read(read_fd, 4096)
                    received += len(chunk)
                if not chunk:
                    return
                time.sleep(0.001)

        reader = threading.Thread(target=read_slowly, daemon=True)
        reader.start()
        assert wait_for_blocked_writes(fds, settle_s=0.05, within_s=30.0)
        with reading:  # the write had ended: every byte read or in the pipe
            assert received + _bytes_in_pipe(read_fd) == size, (received, _bytes_in_pipe(read_fd))
    finally:
        stop.set()
        os.close(write_fd)  # the reader reads to the end of the pipe and stops
        if reader is not None:
            reader.join(timeout=5)
        os.close(read_fd)
