"""Fetching a listing's pages ahead (paging.py, `fetch_ahead`): in parallel when the links are plain
offset paging, used only when the chain of next links reaches them, so rows never change."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from pipelines.xmatters.client import XmattersClient
from pipelines.xmatters.paging import item_id, iter_pages
from pipelines.xmatters.people_pages import person_key

BASE = "http://127.0.0.1:9/api/xm/1/people"
TOTAL = 950
PAGE = 100


class _Server:
    """Offset pages of TOTAL people; `stride` is what the next links add to the offset (a server
    whose pages overlap or skip), `slow_s` keeps each request open so overlaps can be counted."""

    def __init__(self, *, stride: int = PAGE, slow_s: float = 0.02) -> None:
        self.stride = stride
        self.slow_s = slow_s
        self.requested: list[str] = []
        self.in_flight = 0
        self.peak = 0
        self._lock = threading.Lock()

    def fetch(self, url: str) -> dict[str, Any]:
        with self._lock:
            self.requested.append(url)
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            time.sleep(self.slow_s)
            offset = int(dict(parse_qsl(urlsplit(url).query)).get("offset", 0))
            data = [{"id": f"p{i}"} for i in range(offset, min(offset + PAGE, TOTAL))]
            links = {}
            if offset + self.stride < TOTAL:
                links["next"] = f"/api/xm/1/people?limit={PAGE}&offset={offset + self.stride}"
            return {"count": len(data), "total": TOTAL, "data": data, "links": links}
        finally:
            with self._lock:
                self.in_flight -= 1


def _read(server: _Server, ahead: bool) -> list[str]:
    with ThreadPoolExecutor(4) as pool:
        pages = iter_pages(
            server.fetch,
            f"{BASE}?limit={PAGE}",
            key=item_id,
            fetch_ahead=(lambda url: pool.submit(server.fetch, url)) if ahead else None,
        )
        return [item["id"] for page in pages for item in page]


def test_offset_pages_are_fetched_in_parallel_each_once_with_the_same_rows() -> None:
    alone, parallel = _Server(), _Server()
    assert _read(parallel, ahead=True) == _read(alone, ahead=False) == [f"p{i}" for i in range(TOTAL)]
    assert alone.peak == 1 and parallel.peak > 2  # the chain's page plus guessed ones in flight
    assert sorted(parallel.requested) == sorted(alone.requested)  # every page once, none extra
    assert max(Counter(parallel.requested).values()) == 1


def test_guesses_the_chain_never_reaches_are_not_used() -> None:
    # next links that advance by 150 (the server skips rows): guesses at 200, 300, ... are wrong
    skipping = _Server(stride=150)
    expected = _read(_Server(stride=150), ahead=False)
    assert _read(skipping, ahead=True) == expected  # the rows of the chain, not of the guesses
    assert len(set(skipping.requested)) > len(expected) // PAGE  # some guesses were wasted requests


def test_people_and_groups_listings_fetch_ahead_against_the_simulator(xm_org, xm_sim, make_config) -> None:
    xm_sim.faults.latency_s = 0.02
    with XmattersClient(make_config()) as client:
        people = [person_key(p) for page in client.people_pages() for p in page]
        assert sorted(people) == sorted(p["id"] for p in xm_org.people)
    paths = [path for _, path, _ in xm_sim.requests if path.split("?")[0].endswith("/people")]
    assert len(paths) == len(set(paths)) == -(-len(xm_org.people) // 100)  # each page once
