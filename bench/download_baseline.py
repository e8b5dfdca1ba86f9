"""Download-only baseline: what a plain `requests` script takes to read everything the sync reads.

The benchmark's peer for "the sync is never slower than a script that only downloads" (issue 21):
the same endpoints, auth and page size as the sync (`/people`, `/groups` and every group's
`/groups/{id}/members`, `limit=1000`), each response decoded (`response.json()`: a real client
must decode a page to page on), nothing stored. Written the way a competent engineer would write
it, not handicapped:

- a `requests.Session` per thread (kept-alive connections), `--threads` threads (default 8);
- offset paging fetched in parallel: the first page of a listing gives `total`, and its other
  pages are requested at once (`offset=1000, 2000, ...`) instead of following `links.next` one
  after another; the member calls start as soon as the first `/groups` page names groups;
- one work queue for every request, so no thread idles while another listing still has pages.

It trusts `total` and skips the checks the sync makes (same origin, loops, duplicates, size and
time limits, retries): a script that only downloads would not make them either.

    python bench/download_baseline.py --base-url URL --user USER --password PASSWORD [--threads 8]

Prints the counts and `requests=N items=N wall_s=X cpu_s=Y` as its last line (bench/run.py reads it).
"""

from __future__ import annotations

import argparse
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests

PAGE_SIZE = 1000  # the sync's default page size (pipelines/xmatters/settings.py: MAX_PAGE_SIZE)


@dataclass
class Counts:
    requests: int = 0
    people: int = 0
    groups: int = 0
    members: int = 0

    @property
    def items(self) -> int:
        return self.people + self.groups + self.members


@dataclass(frozen=True)
class Page:
    """One page to fetch: which listing (`kind`), its path and offset."""

    kind: str  # "people", "groups" or "members"
    path: str
    offset: int


@dataclass
class Downloader:
    """Fetches every page of the tenant over `threads` threads; the main thread schedules follow-ups."""

    base_url: str
    auth: tuple[str, str]
    threads: int = 8
    page_size: int = PAGE_SIZE
    counts: Counts = field(default_factory=Counts)
    _local: threading.local = field(default_factory=threading.local)
    _sessions: list[requests.Session] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.auth = self.auth
            session.headers["Accept"] = "application/json"
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def fetch(self, page: Page) -> dict[str, Any]:
        response = self.session().get(
            self.base_url + page.path,
            params={"offset": page.offset, "limit": self.page_size},
            timeout=60,
        )
        response.raise_for_status()
        return response.json()

    def run(self) -> Counts:
        done: queue.Queue[tuple[Page, Future[dict[str, Any]]]] = queue.Queue()
        pending = 0
        with ThreadPoolExecutor(self.threads, thread_name_prefix="download") as pool:

            def submit(page: Page) -> None:
                nonlocal pending
                pending += 1
                future = pool.submit(self.fetch, page)
                future.add_done_callback(lambda f: done.put((page, f)))

            submit(Page("groups", "/groups", 0))  # groups first: the member calls hang off them
            submit(Page("people", "/people", 0))
            while pending:
                page, future = done.get()
                pending -= 1
                body = future.result()  # any error ends the script with its traceback
                self.counts.requests += 1
                data = body["data"]
                setattr(self.counts, page.kind, getattr(self.counts, page.kind) + len(data))
                if page.offset == 0:
                    for offset in range(self.page_size, int(body.get("total") or 0), self.page_size):
                        submit(Page(page.kind, page.path, offset))
                if page.kind == "groups":
                    for group in data:
                        submit(Page("members", f"/groups/{quote(group['id'], safe='')}/members", 0))
        for session in self._sessions:
            session.close()
        return self.counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base-url", required=True, help="e.g. http://127.0.0.1:8080/api/xm/1")
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", default=os.environ.get("BATON_PASSWORD"), help="or BATON_PASSWORD")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--page-size", type=int, default=PAGE_SIZE)
    args = parser.parse_args(argv)
    if not args.password:
        parser.error("--password (or BATON_PASSWORD) is required")
    downloader = Downloader(
        args.base_url.rstrip("/"), (args.user, args.password), threads=args.threads, page_size=args.page_size
    )
    return report(downloader.run, sys.stdout)


def report(run: Callable[[], Counts], out: Any) -> int:
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    counts = run()
    wall, cpu = time.perf_counter() - wall_start, time.process_time() - cpu_start
    print(f"people {counts.people}, groups {counts.groups}, members {counts.members}", file=out)
    print(f"requests={counts.requests} items={counts.items} wall_s={wall:.3f} cpu_s={cpu:.3f}", file=out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
