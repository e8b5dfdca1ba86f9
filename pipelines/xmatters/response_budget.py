"""How many bytes of response bodies one client's threads may hold at once: the memory bound that
no server can send past, whatever the size of its pages.

Why: `--max-response-mib` bounds one body (64 MiB), and `--concurrency` calls run at once (32).
A server sending every member call pages of a few hundred MB of legal JSON (huge names) made the
member-call process hold one body per thread, the pages decoded from them and the member items
held per group: 40 groups of one 30 MB page took it to 3.8 GB (docs/benchmarks.md, twenty-first
round). The budget counts each body's decoded bytes as they are read, and keeps them counted until
the page's items have gone into an Arrow table (member calls: `member_calls` releases them) or the
listing has taken the page (every other listing: `paging.iter_pages`).

The rule, and why it cannot deadlock: a thread may always add bytes while no page is over the
limit. The page whose bytes take the total over the limit is *the overdraft*: only it may grow
(its body is read to the end, at most `--max-response-mib`); every other thread waits before its
next bytes until the overdraft is released. So the bytes held are at most the limit plus one body.
A thread about to wait first hands on what it holds (`on_wait`: a member call's held items go to
the reader as a part), so the overdraft never waits on a thread that waits for it: the reader,
which releases pages, never takes bytes itself.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

from pipelines.xmatters.errors import XmattersError

MAX_HELD_RESPONSE_BYTES = 64 * 2**20
"""Five times a real tenant's: L's member calls held at most 12 MiB of pages at once (0 ms latency;
1,000 members of a page are ~0.3 MB of JSON), so waiting starts only for pages no tenant sends. A
held byte costs ~4 bytes of the process (the body read in chunks, joined, decoded, batched)."""

WAIT_POLL_S = 0.1  # how often a waiting thread checks whether the extract was cancelled


class OverCap(Exception):
    """A body passed its own cap (`ResponseBudget.body(cap)`): a page guessed ahead that is too large
    to hold while it waits for its listing; the listing fetches it itself when it gets there."""


class ResponseBudget:
    """Bytes of bodies being read, and of pages not yet handed on, of one client's threads."""

    def __init__(self, cancelled: threading.Event, limit: int | None = None) -> None:
        self.limit = MAX_HELD_RESPONSE_BYTES if limit is None else limit
        self.held = 0
        self.peak = 0  # the most held at once (benchmarks report it)
        self._overdraft: BodyBytes | None = None
        self._cancelled = cancelled
        self._cond = threading.Condition(threading.Lock())
        self._local = threading.local()  # on_wait: what a thread hands on before it waits

    def body(self, cap: int | None = None) -> BodyBytes:
        """The account of one body (one attempt of one request); past `cap` bytes it raises `OverCap`."""
        return BodyBytes(self, cap)

    @contextlib.contextmanager
    def on_wait(self, hand_on: Callable[[], None]) -> Iterator[None]:
        """Within this block, this thread calls `hand_on()` before it waits for bytes: it must give
        what the thread holds to a consumer that releases it without taking bytes itself."""
        previous = getattr(self._local, "hand_on", None)
        self._local.hand_on = hand_on
        try:
            yield
        finally:
            self._local.hand_on = previous

    def _charge(self, body: BodyBytes, size: int) -> None:
        handed_on = False
        with self._cond:
            while self._overdraft is not None and self._overdraft is not body:
                if self._cancelled.is_set():
                    raise XmattersError("response read cancelled: the extract already failed")
                hand_on = getattr(self._local, "hand_on", None)
                if hand_on is not None and not handed_on:
                    handed_on = True
                    self._cond.release()
                    try:
                        hand_on()
                    finally:
                        self._cond.acquire()
                    continue
                self._cond.wait(WAIT_POLL_S)
            self.held += size
            body.size += size
            self.peak = max(self.peak, self.held)
            if self._overdraft is None and self.held > self.limit:
                self._overdraft = body

    def _release(self, body: BodyBytes) -> None:
        with self._cond:
            self.held -= body.size
            body.size = 0
            if self._overdraft is body:
                self._overdraft = None
                self._cond.notify_all()


class BodyBytes:
    """One body's bytes in a `ResponseBudget`, from its first byte read until `release()`."""

    __slots__ = ("_budget", "cap", "size", "released", "read")

    def __init__(self, budget: ResponseBudget, cap: int | None = None) -> None:
        self._budget = budget
        self.cap = cap
        self.size = 0  # held now
        self.read = 0  # read in all (kept after release: the page's size for byte-sized batches)
        self.released = False

    def charge(self, size: int) -> None:
        """Counts `size` more bytes of the body; waits while another page is the overdraft."""
        if self.cap is not None and self.read + size > self.cap:
            raise OverCap(self.cap)
        self._budget._charge(self, size)
        self.read += size

    def release(self) -> None:
        """Gives the bytes back (the page is in a table, or dropped); once, later calls do nothing."""
        if not self.released:
            self.released = True
            self._budget._release(self)


_current = threading.local()  # the account the body read on this thread is charged to


@contextlib.contextmanager
def charging(body: BodyBytes) -> Iterator[None]:
    """Within this block, the bodies read on this thread (`bounded.BoundedBody`) are charged to `body`."""
    _current.body = body
    try:
        yield
    finally:
        _current.body = None


def charge_current(size: int) -> None:
    """Charges `size` decoded bytes to this thread's current body, if it has one."""
    body = getattr(_current, "body", None)
    if body is not None:
        body.charge(size)
