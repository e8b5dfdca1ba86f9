"""Adaptive concurrency (AIMD, `pipelines/xmatters/adaptive.py`): grows while the server keeps up,
halves and waits out Retry-After when it throttles; checked alone and against a rate-limited simulator."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pyarrow as pa

from pipelines.xmatters.adaptive import AdaptiveLimit
from pipelines.xmatters.client import XmattersClient
from pipelines.xmatters.config import XmattersConfig
from pipelines.xmatters.member_calls import member_tables
from simulator import FaultRule, Faults, XmattersSimulator, build_org
from simulator.org import OrgSpec


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_it_grows_by_one_per_success_up_to_the_ceiling_until_the_first_throttle() -> None:
    limit = AdaptiveLimit(8, 12)
    for _ in range(10):
        limit.release(limit.acquire(), ok=True)
    assert limit.limit == 12 and limit.highest == 12


def test_a_throttle_halves_it_once_per_round_then_it_grows_by_one_per_round() -> None:
    limit = AdaptiveLimit(8, 32)
    rounds = [limit.acquire() for _ in range(8)]  # eight requests sent in the same round
    for sent_in in rounds[:4]:  # all four answered 429: one cut, not four
        limit.release(sent_in, throttled=True)
    assert limit.limit == 4 and limit.throttles == 1
    for sent_in in rounds[4:]:
        limit.release(sent_in, ok=True)
    # after a throttle: +1 per `limit` successes (the four above count towards the first)
    assert limit.limit == 5
    for _ in range(5):
        limit.release(limit.acquire(), ok=True)
    assert limit.limit == 6
    limit.release(limit.acquire(), throttled=True)  # a request of the new round cuts again
    assert limit.limit == 3 and limit.lowest == 3


def test_it_never_goes_below_one_and_neutral_outcomes_leave_it() -> None:
    limit = AdaptiveLimit(2, 4)
    for _ in range(3):
        limit.release(limit.acquire(), throttled=True)
    assert limit.limit == 1
    limit.release(limit.acquire())  # a reset or timeout: neither grows nor cuts
    assert limit.limit == 1


def test_retry_after_holds_every_new_request_and_a_cancel_ends_the_wait() -> None:
    clock = _Clock()
    limit = AdaptiveLimit(4, 4, clock=clock)
    limit.release(limit.acquire(), throttled=True, retry_after=30.0)
    cancelled = threading.Event()
    got: list[int | None] = []
    waiter = threading.Thread(target=lambda: got.append(limit.acquire(cancelled)))
    waiter.start()
    time.sleep(0.3)
    assert waiter.is_alive() and not got  # a slot is free, but Retry-After has not passed
    clock.now += 31
    waiter.join(timeout=2)
    assert got == [1]  # the round after the cut

    limit.release(1, throttled=True, retry_after=30.0)
    late = threading.Thread(target=lambda: got.append(limit.acquire(cancelled)))
    late.start()
    cancelled.set()
    late.join(timeout=2)
    assert not late.is_alive() and got[-1] is None


def test_only_the_ceiling_is_in_flight_at_once() -> None:
    limit = AdaptiveLimit(2, 2)
    first, second = limit.acquire(), limit.acquire()
    cancelled = threading.Event()
    third = threading.Thread(target=lambda: limit.acquire(cancelled))
    third.start()
    time.sleep(0.25)
    assert third.is_alive()  # waiting for a slot
    limit.release(first, ok=True)
    third.join(timeout=2)
    assert not third.is_alive()
    limit.release(second, ok=True)


RATE = 150  # requests a second the simulator answers before 429s (3 in flight at 20 ms)
SPEC = OrgSpec(seed=5, people=300, groups=600, members_per_group=6, large_groups=0, hidden_people=0)


def test_against_a_rate_limited_server_it_backs_off_and_reads_everything() -> None:
    """Up to 32 in flight at 20 ms would ask ~1,600 a second of a server that answers 150: the
    client cuts what it keeps in flight and every thread waits out Retry-After, so 429s stay a
    small share of the requests and no page is lost."""
    org = build_org(SPEC)
    faults = Faults(latency_s=0.02, rate_limit=RATE)
    with XmattersSimulator(org, username="rate-user", password="rate-password", faults=faults) as sim:
        config = XmattersConfig(
            base_url=sim.base_url,
            username="rate-user",
            password="rate-password",
            concurrency=32,
            max_attempts=10,
            backoff_cap_s=2.0,
        )
        with XmattersClient(config) as client:
            groups = [(g["id"], g["targetName"]) for page in client.group_pages() for g in page]
            started = time.monotonic()
            rows = sum(t.num_rows for t in member_tables(client, groups) if isinstance(t, pa.Table))
            took = time.monotonic() - started
        statuses = Counter(status for _, _, status in sim.requests)

    assert rows == org.membership_rows()  # nothing lost to the throttling
    limit = client.in_flight
    assert limit.highest > 8  # it grew while the server kept up
    assert limit.throttles >= 1 and limit.lowest < limit.highest  # and was cut when it did not
    assert 1 <= statuses[429] <= statuses[200] // 5, statuses
    assert took >= len(groups) / RATE * 0.8  # the server's limit, not the client, set the pace


def test_a_retry_after_holds_every_thread_not_only_the_one_that_got_it(monkeypatch) -> None:
    """One 429 with `Retry-After: 1` in the middle of the member calls: the other threads finish
    the requests already in flight, then send nothing until the second has passed."""
    org = build_org(
        OrgSpec(seed=5, people=50, groups=80, members_per_group=3, large_groups=0, hidden_people=0)
    )
    faults = Faults(latency_s=0.02)
    faults.add(FaultRule("status", path_contains="/members", status=429, retry_after=1, after=20, times=1))
    with XmattersSimulator(org, username="rate-user", password="rate-password", faults=faults) as sim:
        answered: list[tuple[float, int]] = []
        record = sim._record

        def timed(method: str, path: str, status: int) -> None:
            answered.append((time.monotonic(), status))
            record(method, path, status)

        monkeypatch.setattr(sim, "_record", timed)
        # Spelled out as in the test above on purpose: each test's limits (concurrency, attempts,
        # back-off cap) are what it is about, so they stay visible in the test.
        config = XmattersConfig(
            base_url=sim.base_url,
            username="rate-user",
            password="rate-password",
            concurrency=8,
            backoff_cap_s=5.0,
        )
        with XmattersClient(config) as client:
            groups = [(g["id"], g["targetName"]) for page in client.group_pages() for g in page]
            rows = sum(t.num_rows for t in member_tables(client, groups) if isinstance(t, pa.Table))

    assert rows == org.membership_rows()
    throttled_at = next(t for t, status in answered if status == 429)
    during = [t for t, _ in answered if throttled_at + 0.2 < t < throttled_at + 0.9]
    assert during == []  # without the hold, the other 7 threads went on (~40 requests a 100 ms)
    assert client.in_flight.throttles == 1 and client.in_flight.lowest == 4  # halved once
