"""The member-call process's replies, sorted into their two streams: the member calls' and `/people`'s.

Why: the child lists `/people` beside the member calls (`member_worker.py`), so that listing's CPU
leaves the sync's busy process, and its one pipe carries both answers. The sync reads them on two
threads: dlt's `people` resource (a worker thread) and `group_members` (its main thread). Whichever
reader waits reads the next frame; a frame of the other stream is kept for its reader. What is kept
is at most what the child sent ahead of that reader: the people tables, or the member tables of
the child's bounded reply queue (`member_worker.REPLY_BUFFER_BYTES`) and of the listing's time.

`error` and `people_error` end the child: every reader then gets that frame (its counts only once),
so the sync fails with that one error whichever thread dlt hears from first.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable

from pipelines.worker_protocol import Frame

MEMBERS = "members"
PEOPLE = "people"
FAILURES = frozenset({"error", "people_error"})
_PEOPLE_KINDS = frozenset({"people", "people_done"})


class ReplyStreams:
    """Frames of one child, handed to the reader of their stream (`next`), from any thread."""

    def __init__(self, readable: Callable[[float], bool], receive: Callable[[], Frame]) -> None:
        """`readable(timeout)`: whether a frame (or the child's end) arrived; `receive()`: the next
        frame (raises once the child is gone)."""
        self._readable = readable
        self._receive = receive
        self._kept: dict[str, collections.deque[Frame]] = {
            MEMBERS: collections.deque(),
            PEOPLE: collections.deque(),
        }
        self._failure: Frame | None = None
        self._reading = False  # one reader of the pipe at a time; the others wait for its frame
        self._changed = threading.Condition()

    def next(self, stream: str, cancelled: Callable[[], bool], poll_s: float) -> Frame | None:
        """The next frame of `stream`, or the child's failure; None once `cancelled()` (checked at
        least every `poll_s`)."""
        while True:
            with self._changed:
                while True:
                    if self._kept[stream]:
                        return self._kept[stream].popleft()
                    if self._failure is not None:
                        return self._failure_again()
                    if cancelled():
                        return None
                    if not self._reading:
                        self._reading = True
                        break
                    self._changed.wait(poll_s)
            frame: Frame | None = None
            try:
                if self._readable(poll_s):
                    frame = self._receive()
            finally:
                with self._changed:
                    self._reading = False
                    if frame is not None:
                        self._sort(frame)
                    self._changed.notify_all()

    def _sort(self, frame: Frame) -> None:
        if frame.kind in FAILURES:
            self._failure = frame
            self._kept[MEMBERS].append(frame)  # its counts, once, to whoever reads it first
            return
        self._kept[PEOPLE if frame.kind in _PEOPLE_KINDS else MEMBERS].append(frame)

    def _failure_again(self) -> Frame:
        """The failure for a reader after the first: the same error, without its counts."""
        assert self._failure is not None
        if self._kept[MEMBERS] and self._kept[MEMBERS][0] is self._failure:
            self._kept[MEMBERS].popleft()
            return self._failure
        fields = {key: value for key, value in self._failure.fields.items() if key != "counts"}
        return Frame(self._failure.kind, fields)
