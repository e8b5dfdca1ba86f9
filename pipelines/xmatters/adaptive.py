"""How many requests a client keeps in flight: grown while the server keeps up, halved when it throttles.

Why: member calls are latency-bound (one call per group, ~100 ms round trip to a hosted xMatters),
so the extract takes about `requests x latency / in flight`. Eight in flight left a large tenant's
extract at ~2 minutes at 100 ms (docs/benchmarks.md, tenth round), while the rate limit seen on one
instance (`x-ratelimit-limit: 60000` per 60 s, 1,000 a second) is far above what 32 in flight
send at that latency (~320 a second). Rate limits are not published, though, so the limit is
additive-increase / multiplicative-decrease (AIMD, as TCP): it starts at `start`, grows by one per
successful request up to `ceiling` until the first throttle (slow start), then by one per `limit`
successes; a 429 or 5xx halves it (once per round of requests: the answers to requests sent before
the cut do not cut it again), and a `Retry-After` holds every new request until it has passed,
not only the retrying one. Transport failures (a reset, a timeout) neither grow nor cut it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

_WAIT_POLL_S = 0.1  # how often a waiting request notices a cancelled extract


class AdaptiveLimit:
    """Slots for requests in flight, between 1 and `ceiling`, starting at `start` (AIMD, see module)."""

    def __init__(self, start: int, ceiling: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.ceiling = max(1, ceiling)
        self.limit = max(1, min(start, self.ceiling))
        self.lowest = self.highest = self.limit
        self.throttles = 0  # cuts made (429/5xx answers that lowered the limit)
        self._clock = clock
        self._in_flight = 0
        self._round = 0  # bumped by every cut; a request remembers the round it was sent in
        self._slow_start = True
        self._successes = 0
        self._resume_at = 0.0
        self._changed = threading.Condition()

    def acquire(self, cancelled: threading.Event | None = None) -> int | None:
        """Waits for a free slot (and for any `Retry-After` to pass); returns the round to hand back
        to `release`, or None when `cancelled` was set while waiting."""
        with self._changed:
            while True:
                if cancelled is not None and cancelled.is_set():
                    return None
                wait = self._resume_at - self._clock()
                if wait <= 0 and self._in_flight < self.limit:
                    self._in_flight += 1
                    return self._round
                self._changed.wait(min(wait, _WAIT_POLL_S) if wait > 0 else _WAIT_POLL_S)

    def release(
        self, sent_in: int, *, ok: bool = False, throttled: bool = False, retry_after: float | None = None
    ) -> None:
        """Frees a slot: `ok` grows the limit, `throttled` (429/5xx) cuts it, neither leaves it."""
        with self._changed:
            self._in_flight -= 1
            if throttled:
                self._throttled(sent_in, retry_after)
            elif ok:
                self._grow()
            self._changed.notify_all()

    def _grow(self) -> None:
        if self.limit >= self.ceiling:
            return
        if not self._slow_start:
            self._successes += 1
            if self._successes < self.limit:
                return
            self._successes = 0
        self.limit += 1
        self.highest = max(self.highest, self.limit)

    def _throttled(self, sent_in: int, retry_after: float | None) -> None:
        if retry_after is not None and retry_after > 0:
            self._resume_at = max(self._resume_at, self._clock() + retry_after)
        if sent_in != self._round:  # sent before the last cut: that cut already answered it
            return
        before = self.limit
        self.limit = max(1, self.limit // 2)
        self.lowest = min(self.lowest, self.limit)
        self.throttles += 1
        self._round += 1
        self._slow_start = False
        self._successes = 0
        if self.limit < before:
            logger.info("the server throttled: requests in flight lowered from %d to %d", before, self.limit)
