"""How many listed items the unfinished listings of one client may hold at once: the memory bound
that no server can page past.

Why: paging keeps the key of every item a listing has read until the listing ends (a repeat is
dropped, and a re-read yields only rows not yet seen: paging.py), and `--max-pages` bounds one
listing only, at 10,000 pages of 1,000 items by default. A server whose member pages never end made
each member call in flight (up to `--concurrency`, 32) hold up to ten million items: one such group
took ~5 GB, a few of them the machine. The budget bounds them together, whatever the server sends:
a listing that would take the held items past it fails the extract with one line naming its URL.

The limit is far above any real tenant's: a million items in flight at once is ten times the
whole L benchmark tenant's people (100,000), or one group of a million members; L's member calls in
flight hold ~170,000 items together. A held item costs ~110 bytes (its key in a set) once its rows
have gone on (`member_calls` hands a long group's rows on as they come); a listed group counts
twice (its row waits for the listing's end, and its call in the member-call process). Measured
against servers paging without end (docs/benchmarks.md, twentieth round): the sync stops with this
line, its processes together under 1 GiB.
"""

from __future__ import annotations

import threading

from pipelines.xmatters.errors import ProtocolError

MAX_HELD_ITEMS = 1_000_000


class ListingBudget:
    """Items held by unfinished listings: each listing charges its pages to its own `share`, which
    gives its items back when the listing ends."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = MAX_HELD_ITEMS if limit is None else limit
        self._held = 0
        self._lock = threading.Lock()

    @property
    def held(self) -> int:
        with self._lock:
            return self._held

    def charge(self, items: int, url: str, page: int) -> None:
        """Counts a page's new items; ProtocolError (nothing charged) if they would pass the limit."""
        with self._lock:
            if self._held + items > self.limit:
                held = self._held
            else:
                self._held += items
                return
        raise ProtocolError(
            f"the listings in progress would hold over {self.limit:,} items at once ({held:,} held, "
            f"{items:,} more on page {page:,} of {url}); stopped: a server whose pages never end? "
            "(check --max-pages and the server; --concurrency lowers how many listings run at once)"
        )

    def release(self, items: int) -> None:
        with self._lock:
            self._held -= items

    def share(self, item_cost: int = 1) -> ListingShare:
        """A listing's share; each of its items counts `item_cost` times (a listed group: see
        `client.group_pages`)."""
        return ListingShare(self, item_cost)


class ListingShare:
    """One listing's part of a `ListingBudget`."""

    def __init__(self, budget: ListingBudget, item_cost: int = 1) -> None:
        self._budget = budget
        self._item_cost = item_cost
        self.items = 0

    def charge(self, items: int, url: str, page: int) -> None:
        self._budget.charge(items * self._item_cost, url, page)
        self.items += items * self._item_cost

    def close(self) -> None:
        """Gives the listing's items back (its keys are about to be freed)."""
        self._budget.release(self.items)
        self.items = 0
