"""Follow xMatters `links.next` pages safely.

Paging follows `links.next` until it is absent and never trusts `total` (it can be missing after
page one, or disagree with the rows). Because the links come from the server, each one is checked:
a link to another origin is refused (Basic auth would send the password there), a link to a page
already read is a loop, and a row already seen on an earlier page (offset paging over changing
data) is dropped. Offset paging can also skip rows: a row deleted ahead of the offset between two
page reads moves a later row onto a page already read. That leaves a trace, the `total` of a later
page differing from the first page's, so such a listing is read again from its first page (only
rows not yet seen are yielded), until one pass sees a steady `total`, at most `MAX_PASSES` times;
the last pass's change is logged as a warning. A page without `total` (xMatters documents it on
every page of every list endpoint; one third-party client claims it can be missing after page one)
turns that check off for its listing: paging goes on by `links.next` (the rows are all there unless
the data changed while being read), and `on_no_total` is told once per listing so the user hears
that a change could not have been seen (the client warns once, not per listing). An empty
page that still links onward is anomalous (the server says there is more at this offset but sent
none of it): following the link would skip this page's rows and stopping would lose the rest, so
the page is read once more and, if still empty, paging fails.

A listing is also bounded in length, against a server whose distinct next links never end: when
its first page states a `total`, to the pages that total needs at the first page's size (with a
little slack for rows added while paging) but never past `max_pages` (`--max-pages`), which bounds
a listing whose first page has no `total`. A next link longer than `MAX_NEXT_LINK_CHARS` is refused
rather than requested (and quoted in messages).

Fetching ahead (`fetch_ahead`, the people and groups listings): the API pages by offset, so once
the first page states a `total` and its next link carries `offset=<items on the first page>`, the
pages after the next one can be guessed (`offset=2n, 3n, ...`) and requested in parallel, a few
(`AHEAD`) at a time. A guessed page is used only when the chain of next links reaches exactly its
URL (same path and query); every check above applies to the chain as before, so a server whose
links go elsewhere costs a few wasted requests, never a row.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Generator, Hashable, Iterator
from concurrent.futures import Future
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

from pipelines.xmatters.config import url_origin
from pipelines.xmatters.errors import ProtocolError, describe_too_many_pages
from pipelines.xmatters.listing_budget import ListingBudget, ListingShare
from pipelines.xmatters.response_budget import BodyBytes
from pipelines.xmatters.settings import DEFAULT_MAX_PAGES, MAX_NEXT_LINK_CHARS

ItemKey = Callable[[Any], Hashable | None]
FetchAhead = Callable[[str], "Future[Any]"]  # starts fetching a URL elsewhere; the future is its body
AHEAD = 4  # guessed pages in flight (and held) at once per listing
# ... each up to this size: a larger guessed page is dropped and fetched by the listing when it gets
# there (a page of 1,000 people is ~0.8 MB; huge names made guessed pages of 100 MB each)
AHEAD_MAX_PAGE_BYTES = 8 * 2**20
MAX_PASSES = 3  # reads of a listing whose `total` changed while it was read (rows may have moved)

logger = logging.getLogger(__name__)


class BadItem(Exception):
    """An item of a page that a listing cannot use, found by its key function (`ItemKey`).

    The key sees one item, not its page: `_one_pass` words the error with the page's URL, as
    `{subject} in {url} {problem}` (`the id of a person in <url> is a number, not a string`).
    """

    def __init__(self, subject: str, problem: str) -> None:
        super().__init__(subject, problem)
        self.subject = subject
        self.problem = problem


def json_kind(value: Any) -> str:
    """What a decoded JSON value is, in JSON's words: `a number`, `an object`, ..."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object" if isinstance(value, dict) else "null"


def item_id(item: Any, noun: str = "an item", field: str = "id") -> str | None:
    """Key of a person or group (None for an item without one, or one that is not an object).

    An id that is there but not a string (`"id": 42`) is `BadItem`, not "no id": the API's ids are
    UUID strings, and C1's connector (Go) could not read a number into its string field either.
    """
    value = item.get("id") if isinstance(item, dict) else None
    if value is None or isinstance(value, str):
        return value or None
    raise BadItem(f"the {field} of {noun}", f"is {json_kind(value)}, not a string")


class ChargedBody(NamedTuple):
    """What a client's `fetch` returns: the decoded body and its bytes, still counted in the
    client's `ResponseBudget` (response_budget.py)."""

    decoded: Any
    bytes: BodyBytes


class Page(list[Any]):
    """A page's new items, with the size of the body they came from (`size`, their share of it:
    byte-sized Arrow batches), and, when the listing hands its bytes on (`hand_on_bytes`), the
    account that keeps them counted until `release()`."""

    size: int = 0
    bytes: BodyBytes | None = None

    def release(self) -> None:
        """The page's items are in a table (or dropped): its bytes no longer count."""
        if self.bytes is not None:
            self.bytes.release()


def _fetched(fetched: Any) -> tuple[Any, BodyBytes | None]:
    """(decoded body, its bytes or None) of what `fetch` returned: a `ChargedBody` or a body."""
    if isinstance(fetched, ChargedBody):
        return fetched.decoded, fetched.bytes
    return fetched, None


# Keys longer than this are held as a 16-byte digest: a listing keeps every key it has read, and the
# key is the server's text (an id of a megabyte on every row is legal JSON). xMatters ids are
# 36-character UUIDs, held as they are; a person's key adds its `whenUpdated` (~24 characters).
HELD_KEY_CHARS = 64


def held_key(key: Hashable) -> Hashable:
    """`key` as a listing holds it: itself, or a BLAKE2b digest of it when longer than
    `HELD_KEY_CHARS` (128 bits: two distinct keys of a listing never meet by chance)."""
    parts = key if isinstance(key, tuple) else (key,)
    if sum(len(part) for part in parts if isinstance(part, str)) <= HELD_KEY_CHARS:
        return key
    return hashlib.blake2b(repr(key).encode("utf-8", "surrogatepass"), digest_size=16).digest()


def iter_pages(
    fetch: Callable[[str], Any],
    first_url: str,
    *,
    key: ItemKey,
    on_duplicates: Callable[[int], None] | None = None,
    max_pages: int = DEFAULT_MAX_PAGES,
    fetch_ahead: FetchAhead | None = None,
    on_no_total: Callable[[str], None] | None = None,
    budget: ListingBudget | None = None,
    item_cost: int = 1,
    hand_on_bytes: bool = False,
) -> Iterator[Page]:
    """Yield the new (not yet seen) items of each page, starting at `first_url`, as `Page`s.

    `fetch` may return a `ChargedBody`: its bytes are released once the page's items are taken, or
    with `hand_on_bytes` passed on with the page, for the consumer to release (`Page.release`).

    Each page's new items are charged to `budget` (held until the listing ends: their keys), which
    raises `ProtocolError` once the listings in progress would hold more than its limit; each item
    counts `item_cost` times.

    `on_no_total(url)` is called once, with the first page without a `total`: the listing's change
    while it is read (offset paging skipping rows) cannot be detected.

    `fetch(url)` returns the decoded JSON body of one page (its `data` items may be typed objects
    that `key` understands). Raises `ProtocolError` for a page that is not an xMatters list
    envelope, an item without an id or one its `key` refuses (`BadItem`: an id that is a number, a
    field of the wrong type), a paging loop, a next link to another origin, or a page that stays
    empty but links onward.
    """
    ahead: dict[tuple[str, tuple[tuple[str, str], ...]], Future[Any]] = {}
    share = (budget or ListingBudget()).share(item_cost)  # without a budget: this listing's own
    try:
        yield from _pages(
            fetch,
            first_url,
            key,
            on_duplicates,
            max_pages,
            fetch_ahead,
            ahead,
            on_no_total,
            share,
            hand_on_bytes,
        )
    finally:
        _cancel(ahead)  # guesses the chain never reached (or an abandoned listing)
        share.close()


def _pages(
    fetch: Callable[[str], Any],
    first_url: str,
    key: ItemKey,
    on_duplicates: Callable[[int], None] | None,
    max_pages: int,
    fetch_ahead: FetchAhead | None,
    ahead: dict[tuple[str, tuple[tuple[str, str], ...]], Future[Any]],
    on_no_total: Callable[[str], None] | None,
    share: ListingShare,
    hand_on_bytes: bool,
) -> Iterator[Page]:
    origin = url_origin(first_url)
    seen: set[Hashable] = set()
    for number in range(1, MAX_PASSES + 1):
        # later passes re-read every row: only the first pass counts repeats as duplicates
        duplicates = on_duplicates if number == 1 else None
        no_total = on_no_total if number == 1 else None  # a re-read follows a page with one
        change = yield from _one_pass(
            fetch,
            first_url,
            origin,
            key,
            seen,
            duplicates,
            max_pages,
            fetch_ahead,
            ahead,
            no_total,
            share,
            hand_on_bytes,
        )
        if change is None:
            return
        _cancel(ahead)  # guesses of this pass: the next pass fetches afresh
        first_total, later_total = change
        if number < MAX_PASSES:
            logger.info(
                "the listing %s changed while it was read (total %d, then %d): reading it again for "
                "rows the offset paging may have skipped",
                first_url,
                first_total,
                later_total,
            )
        else:
            logger.warning(
                "the listing %s changed while it was read %d times (total %d, then %d): rows that "
                "moved between its pages may be missing from this sync; the next sync reads them",
                first_url,
                MAX_PASSES,
                first_total,
                later_total,
            )


def _cancel(ahead: dict[tuple[str, tuple[tuple[str, str], ...]], Future[Any]]) -> None:
    for future in ahead.values():
        future.cancel()
    ahead.clear()


def _one_pass(
    fetch: Callable[[str], Any],
    first_url: str,
    origin: tuple[str, str, int],
    key: ItemKey,
    seen: set[Hashable],
    on_duplicates: Callable[[int], None] | None,
    max_pages: int,
    fetch_ahead: FetchAhead | None,
    ahead: dict[tuple[str, tuple[tuple[str, str], ...]], Future[Any]],
    on_no_total: Callable[[str], None] | None,
    share: ListingShare,
    hand_on_bytes: bool,
) -> Generator[Page, None, tuple[int, int] | None]:
    """One read of the listing from its first page, yielding rows not in `seen`; returns the first
    page's `total` and a later page's different one, or None when no page's `total` differed."""
    fetched: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    change: tuple[int, int] | None = None
    url: str | None = first_url
    page_bound = max_pages
    total: int | None = None
    needed: int | None = None  # the pages `total` takes at the first page's size
    guesses: Iterator[str] = iter(())
    while url is not None:
        if len(fetched) >= page_bound:
            raise ProtocolError(describe_too_many_pages(first_url, page_bound, total, needed))
        page_key = _page_identity(url)
        if page_key in fetched:
            raise ProtocolError(f"paging loop: the next link {url} repeats a page already read")
        fetched.add(page_key)

        guessed = ahead.pop(page_key, None)
        guessed_body = guessed.result() if guessed is not None else None
        body, body_bytes = _fetched(guessed_body if guessed_body is not None else fetch(url))
        guessed = guessed_body = None
        try:
            items = _page_items(body, url)
            next_link = _next_link(body, url)
            if not items and next_link is not None:
                _release(body_bytes)
                body, body_bytes = _fetched(fetch(url))
                items = _page_items(body, url)
                next_link = _next_link(body, url)
                if not items and next_link is not None:
                    raise ProtocolError(
                        f"the page {url} is empty but links to a next page (read twice); "
                        "following it could skip rows"
                    )
            page_total = _total(body)
            fresh = _fresh_items(items, url, key, seen)
        except BaseException:
            _release(body_bytes)
            raise
        page_items = len(items)
        body = items = None  # the decoded page goes once its new items are handed on
        if body_bytes is not None:
            fresh.size = body_bytes.read * len(fresh) // max(page_items, 1)
            if hand_on_bytes:
                fresh.bytes = body_bytes
            else:
                body_bytes.release()
        if page_total is None and on_no_total is not None:
            on_no_total(url)
            on_no_total = None  # once per listing
        if len(fetched) == 1:
            total = page_total
            if total is not None:
                page_bound = min(max_pages, pages_for_total(total, page_items))
                needed = -(-total // page_items) if page_items else None
        elif change is None and total is not None and page_total is not None and page_total != total:
            change = (total, page_total)
        if on_duplicates is not None and len(fresh) < page_items:
            on_duplicates(page_items - len(fresh))
        if fresh:
            try:
                share.charge(len(fresh), url, len(fetched))
            except BaseException:
                fresh.release()
                raise
            yield fresh
        else:
            fresh.release()  # no page to hand on: no one else would give its bytes back
        fresh = Page()  # the consumer holds the page now (and releases its bytes)

        url = _resolve(next_link, url, origin) if next_link is not None else None
        if fetch_ahead is not None and url is not None:
            if len(fetched) == 1 and total is not None:
                guesses = _guessed_pages(url, page_items, min(total, page_bound * max(page_items, 1)))
            while len(ahead) < AHEAD and (guess := next(guesses, None)) is not None:
                ahead[_page_identity(guess)] = fetch_ahead(guess)
    return change


def _fresh_items(items: list[Any], url: str, key: ItemKey, seen: set[Hashable]) -> Page:
    """The page's items not in `seen` (added to it); `ProtocolError` for an item without a usable key."""
    fresh = Page()
    for item in items:
        try:
            item_key = key(item)
        except BadItem as bad:
            raise ProtocolError(f"{bad.subject} in {url} {bad.problem}") from None
        if item_key is None:
            raise ProtocolError(f"an item on the page {url} has no id")
        if type(item_key) is not str or len(item_key) > HELD_KEY_CHARS:
            item_key = held_key(item_key)
        if item_key in seen:
            continue
        seen.add(item_key)
        fresh.append(item)
    return fresh


def _release(body_bytes: BodyBytes | None) -> None:
    if body_bytes is not None:
        body_bytes.release()


def _guessed_pages(next_url: str, page_items: int, total: int) -> Iterator[str]:
    """The URLs of the pages after `next_url` (the second page), when it is plain offset paging:
    its `offset` is the first page's item count. Nothing to guess otherwise."""
    parts = urlsplit(next_url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    offsets = [value for name, value in query if name == "offset"]
    if page_items < 1 or offsets != [str(page_items)]:
        return
    for offset in range(2 * page_items, total, page_items):
        guessed = [(name, str(offset) if name == "offset" else value) for name, value in query]
        yield urlunsplit(parts._replace(query=urlencode(guessed)))


def pages_for_total(total: int, first_page_items: int) -> int:
    """Pages a listing of `total` items needs at the first page's size, plus slack: 10% and 2 pages
    (rows added while paging, a last page that comes out empty)."""
    per_page = max(first_page_items, 1)
    pages = -(-total // per_page) if total > 0 else 1
    return pages + pages // 10 + 2


def _total(body: Any) -> int | None:
    total = body.get("total") if isinstance(body, dict) else None
    return total if isinstance(total, int) and not isinstance(total, bool) and total >= 0 else None


def _page_identity(url: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """A page is its path and its query parameters in any order."""
    parts = urlsplit(url)
    return parts.path, tuple(sorted(parse_qsl(parts.query, keep_blank_values=True)))


def _page_items(body: Any, url: str) -> list[Any]:
    if not isinstance(body, dict):
        raise ProtocolError(f"the page {url} is not a JSON object")
    data = body.get("data")
    if not isinstance(data, list):
        raise ProtocolError(f"the page {url} has no 'data' list (got {type(data).__name__})")
    return data


def _next_link(body: dict[str, Any], url: str) -> str | None:
    links = body.get("links")
    if links is None:
        return None
    if not isinstance(links, dict):
        raise ProtocolError(f"the page {url} has a 'links' value that is not an object")
    link = links.get("next")
    if link is None or link == "":
        return None
    if not isinstance(link, str):
        raise ProtocolError(f"the page {url} has a 'links.next' value that is not a string")
    if len(link) > MAX_NEXT_LINK_CHARS:
        raise ProtocolError(
            f"the page {url} has a 'links.next' of {len(link):,} characters "
            f"(at most {MAX_NEXT_LINK_CHARS:,} are followed)"
        )
    return link


def _resolve(link: str, current_url: str, origin: tuple[str, str, int]) -> str:
    """Absolute URL of a next link; relative links keep the scheme and host of the base URL."""
    absolute = urljoin(current_url, link)
    parts = urlsplit(absolute)
    try:
        link_origin = url_origin(absolute)
    except ValueError:
        link_origin = ("?", "?", 0)
    if link_origin != origin or parts.username is not None or parts.password is not None:
        # scheme://host[:port], never the link's user info (it could carry a password)
        port = link_origin[2] if link_origin[0] != "?" and parts.port is not None else None
        shown = f"{parts.scheme}://{parts.hostname or '?'}{f':{port}' if port else ''}"
        raise ProtocolError(
            f"the next link of {current_url} points to another origin ({shown}); "
            "refusing to send credentials there"
        )
    # The link is the server's text: a space, a control character or a non-ASCII letter cannot go
    # on a request line (`http.client` refused it as a "connection error", or raised a bare
    # UnicodeEncodeError). Encoded as a browser does (UTF-8, %XX); `%` and the rest stay as sent.
    return quote(absolute, safe=_PRINTABLE_ASCII)


_PRINTABLE_ASCII = "".join(map(chr, range(0x21, 0x7F)))
