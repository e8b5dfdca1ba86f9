"""Waiting for the writes of this process's other threads begun before a descriptor changed (Linux).

The interrupt (orchestration/interrupts.py) points fds 1 and 2 at /dev/null and then writes its
line to a copy of the original stderr. That does not stop a write begun before: the kernel resolved
the descriptor when the call began, so a thread blocked in it (its reader slower than the logging: a
full pipe, a terminal that is behind) finishes into the original pipe once the reader reads, after
the line. Python offers no way to wait for it: with PYTHONUNBUFFERED (set in the container image and
in CI) `sys.stderr` writes straight to the descriptor and holds no lock a flush would wait for.

The kernel says it. `/proc/self/task/<tid>/syscall` names the call a sleeping thread is in and its
first argument, the descriptor ("running" while it runs, even within the call); `.../io` counts the
write calls it finished (`syscw`). A thread seen asleep in a write to one of the descriptors is
waited for until that count grows (the call ended), it is seen asleep in another call, or it ends.
A write that began before but was not seen asleep yet (its thread preempted on the way into the
kernel) is asleep, or over, after a scheduling delay: hence a shortest wait, `settle_s`.

Where the kernel does not say (no /proc, an architecture not listed below), only `settle_s` is waited.
"""

from __future__ import annotations

import os
import threading
import time

# the calls a write to a pipe or terminal sleeps in: write and writev, by architecture
_WRITE_CALLS = {"x86_64": frozenset({1, 20}), "aarch64": frozenset({64, 66})}
_POLL_S = 0.005


def kernel_says() -> bool:
    """Whether this system shows which call a thread is asleep in (Linux on x86_64 or aarch64)."""
    return os.uname().machine in _WRITE_CALLS and os.path.isdir("/proc/self/task")


def wait_for_blocked_writes(fds: frozenset[int], settle_s: float, within_s: float) -> bool:
    """Returns once `settle_s` has passed and no write to `fds` begun before the call is under way in
    another thread (True), or after `within_s` (False).

    Only for descriptors that point, as the call begins, where a write does not sleep (/dev/null):
    a write to them seen asleep is then one begun before.
    """
    calls = _WRITE_CALLS.get(os.uname().machine, frozenset())
    start = time.monotonic()
    waited: dict[int, int] = {}  # thread id -> its finished write calls when first seen asleep in one
    while True:
        seen = _other_threads()
        for tid in list(waited):
            if tid not in seen:
                del waited[tid]  # the thread ended
        for tid, (writes_done, call) in seen.items():
            asleep_writing = call is not None and call[0] in calls and call[1] in fds
            if asleep_writing:
                waited.setdefault(tid, writes_done)
            elif tid in waited and (call is not None or writes_done > waited[tid]):
                del waited[tid]  # asleep in another call, or the write call ended
        elapsed = time.monotonic() - start
        if elapsed >= settle_s and not waited:
            return True
        if elapsed >= within_s:
            return False
        time.sleep(_POLL_S)


def _other_threads() -> dict[int, tuple[int, tuple[int, int] | None]]:
    """Each other thread: (its finished write calls, (call, first argument) if asleep in a call)."""
    me = threading.get_native_id()
    try:
        tids = [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:
        return {}
    threads = {}
    for tid in tids:
        if tid == me:
            continue
        try:  # the count first: a write seen asleep after it is not counted in it
            with open(f"/proc/self/task/{tid}/io") as io:
                writes_done = next(int(line.split()[1]) for line in io if line.startswith("syscw:"))
            with open(f"/proc/self/task/{tid}/syscall") as syscall:
                fields = syscall.read().split()
        except (OSError, StopIteration, ValueError):  # the thread ended, or the kernel keeps it to itself
            continue
        # "<call> <arg0> ... <sp> <pc>" while asleep in a call; "running" or "-1 <sp> <pc>" otherwise
        asleep_in = (int(fields[0]), int(fields[1], 16)) if len(fields) > 3 and fields[0].isdigit() else None
        threads[tid] = (writes_done, asleep_in)
    return threads
