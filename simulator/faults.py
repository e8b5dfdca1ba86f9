"""Fault knobs: make the simulator misbehave the way real xMatters instances and networks do.

A `Faults` object is read by the server on every request, so tests and benchmarks may change it
while the server runs (`sim.faults.latency_s = 0.2`, `sim.faults.add(FaultRule(...))`,
`sim.faults.deleted_groups.add(group_id)`, or replace it: `sim.faults = Faults(...)`).

Rules apply to authenticated GET requests only (a bad password is always a plain 401). For every
such request each rule whose `path_contains` occurs in the raw path-with-query counts it; the first
rule (in list order) that has skipped its `after` matching requests and has firings left fires.
At most one rule fires per request. Page kinds only count requests answered with a list page (not
a 404 or 400), and "repeat_row" / "total_first_page_only" only pages with offset > 0.

Kinds (`FaultRule.kind`):

Transport and status faults (the request never gets its normal page):
- "status": respond `status` with the xMatters error body `{"code", "reason", "message"}`
  (401/403/404/429/5xx...); `retry_after` adds a `Retry-After` header (seconds or any string,
  e.g. an HTTP date); `message` overrides the default message.
- "drop": close the connection without sending any response.
- "reset": send the status line, headers (with the full Content-Length) and the first half of the
  body, then reset the connection (TCP RST).
- "slow": sleep `delay_s` seconds, then answer normally (use a delay past the client's timeout).
- "malformed_json": status 200, JSON content type, a body that is not valid JSON.
- "truncated_json": status 200, a complete HTTP message whose body is the first half of the page.
- "invalid_utf8": status 200, the page with a byte 0xFF at the start of its first `targetName`
  (not UTF-8: what a proxy that re-encodes bodies to Latin-1 sends).
- "html_200": status 200 with a `text/html` error page, as a proxy or maintenance page sends.

Hostile servers (what a broken or malicious server, or one behind a broken proxy, can send):
- "gzip_bomb": status 200, `Content-Encoding: gzip`, an empty page padded with spaces to
  `size_bytes` decoded bytes (default 3 GiB; ~1 MB on the wire per GiB).
- "huge_body": status 200, an empty page padded with spaces to `size_bytes` bytes, streamed; with
  `declare_length` False it has no Content-Length (the body ends when the connection closes).
- "trickle": the normal response, its body sent one byte every `delay_s` seconds.
- "deep_json": status 200, a JSON document of arrays nested `depth` levels.
- "echo_auth": status `status` (500) whose message echoes the request's Authorization header, the
  user name and password it decodes to, and the token URL-encoded (what a debug error page does).
- "status" with `headers`: extra response headers (a huge or hostile `Retry-After`, `Location`).
- "bad_status_line": `status_line` (default `HTTP/1.1 2x0 OK`; `SSH-2.0-OpenSSH_9.6` is what an
  SSH port answers) and an empty line, then the connection is closed.
- "many_headers": `HTTP/1.1 200 OK`, then 100-byte header lines without end (until the client goes
  away, at most ~10 MB).
- "long_header_line": `HTTP/1.1 200 OK`, then one header line of 1 MiB.
- "bad_chunked": status 200, `Transfer-Encoding: chunked`, one good chunk, then `zz` where the next
  chunk's size belongs, and the connection is closed.
These four are recorded with status 0 (no HTTP response a client can read).

Page faults (the normal page, altered; they only apply to list endpoints):
- "data_not_list": `data` is a JSON object instead of a list.
- "item_without_id": the first item has no `id` (for `/members`, the first item's `member.id`).
- "id_number": the first item's `id` is a number, 42 (for `/members`, `member.id`).
- "wrong_type": the first item's `status` is an object, `{"code": "ACTIVE"}` (for `/members`,
  `member.status`).
- "huge_number": `total` is a number of `digits` digits (valid JSON; Python reads at most 4,300).
- "total_first_page_only": `total` is left out of every page with offset > 0 (use `times=None`).
- "repeat_row": a page with offset > 0 also starts with the last row of the previous page, as a
  client sees when a row was inserted ahead of it between two page reads (nothing is lost).
- "next_loop": `links.next` is the current page's own link (a client that follows it loops).
- "next_unencoded": `links.next` carries `&note=Zoë ops` and a control character unencoded (a
  space, a non-ASCII letter, U+0001): a client must encode them, they cannot go on a request line.
- "next_foreign": `links.next` is an absolute URL, `foreign_origin` + the normal next link
  (another host or scheme: a client must not send its credentials there).
- "total_mismatch": `total` is the true total plus `total_delta`.
- "empty_page_with_next": the page has `count` 0 and `data` [], but still a `next` link to the
  following page (its rows are not served on this response).
- "padded_names": every item's `targetName` (for `/members`, `member.targetName`) is `size_bytes`
  characters long (legal JSON: pages of a few hundred MB at the documented 1,000 items).
- "endless_next": every page links to a next one, forever (past the end it serves the last page's
  rows again, or with `fresh_rows` those rows under new ids: `<id>~<offset>`); `omit_total`
  leaves `total` out of every page.

`deleted_groups` holds group ids or targetNames whose members call answers 404 (the group was
deleted between the group list and its members call); `/groups` still lists them.
`latency_s`: every GET is answered that long after it arrived (its first byte, or the connection's
close, is held until then; the simulator's own work happens meanwhile, as in a server of that latency).
`rate_limit` (requests per second, 0 = none) answers an authenticated GET with 429 and
`Retry-After: 1` once `rate_limit` requests were answered within the last second (a sliding window,
as a per-tenant API limit works; `x-ratelimit-limit: 60000` per 60 s was seen on one instance).
Refused requests do not count against the window.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, get_args

# Each kind is spelled once, in the Literal of its family; the sets checked at run time are derived
# from those Literals, so the type, the validation and the server's transport/page split cannot disagree.
TransportKind = Literal[
    "status",
    "drop",
    "reset",
    "slow",
    "malformed_json",
    "truncated_json",
    "invalid_utf8",
    "html_200",
    "gzip_bomb",
    "huge_body",
    "trickle",
    "deep_json",
    "echo_auth",
    "bad_status_line",
    "many_headers",
    "long_header_line",
    "bad_chunked",
]
PageKind = Literal[
    "data_not_list",
    "item_without_id",
    "id_number",
    "wrong_type",
    "huge_number",
    "total_first_page_only",
    "repeat_row",
    "next_loop",
    "next_foreign",
    "next_unencoded",
    "total_mismatch",
    "empty_page_with_next",
    "endless_next",
    "padded_names",
]
FaultKind = Literal[TransportKind, PageKind]
TRANSPORT_KINDS: frozenset[str] = frozenset(get_args(TransportKind))
PAGE_KINDS: frozenset[str] = frozenset(get_args(PageKind))
ALL_KINDS = TRANSPORT_KINDS | PAGE_KINDS
# Kinds that only make sense after the first page: they only count requests with offset > 0.
LATER_PAGE_KINDS = frozenset({"total_first_page_only", "repeat_row"})


@dataclass
class FaultRule:
    """One misbehaviour, fired on matching requests.

    path_contains: substring of the raw request path with its query string ("" matches all),
        e.g. "/people", "/members", "offset=1000", or a URL-encoded group name.
    times: how many matching requests it fires on (None: every one after `after`).
    after: how many matching requests to let through untouched first.
    status: the HTTP status of a "status" rule.
    retry_after: `Retry-After` header value of a "status" rule (int/float seconds or a string).
    message: the error body's message of a "status" rule (default: an xMatters-like one).
    delay_s: how long a "slow" rule sleeps before answering.
    foreign_origin: scheme+host that a "next_foreign" rule puts in front of the next link.
    total_delta: what a "total_mismatch" rule adds to `total`.
    size_bytes: decoded size of a "gzip_bomb" or "huge_body" response; each name of "padded_names".
    declare_length: whether a "huge_body" response has a Content-Length.
    depth: nesting of a "deep_json" document.
    digits: digits of a "huge_number" page's `total`.
    omit_total: an "endless_next" page leaves out `total`.
    fresh_rows: an "endless_next" page past the end serves rows no page had (ids `<id>~<offset>`).
    headers: extra headers of a "status" response.
    status_line: what a "bad_status_line" response sends as its first line.
    """

    kind: FaultKind
    path_contains: str = ""
    times: int | None = 1
    after: int = 0
    status: int = 503
    retry_after: int | float | str | None = None
    message: str | None = None
    delay_s: float = 5.0
    foreign_origin: str = "http://xmatters.invalid"
    total_delta: int = 7
    size_bytes: int = 3 * 2**30
    declare_length: bool = True
    depth: int = 100_000
    digits: int = 200_000
    omit_total: bool = False
    fresh_rows: bool = False
    headers: tuple[tuple[str, str], ...] = ()
    status_line: str = "HTTP/1.1 2x0 OK"
    seen: int = field(default=0, init=False)
    fired: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.kind not in ALL_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {sorted(ALL_KINDS)}")
        if not 100 <= self.status <= 599:
            raise ValueError(f"fault status must be an HTTP status code, got {self.status}")
        if self.after < 0 or (self.times is not None and self.times < 0):
            raise ValueError("fault `after` and `times` must be >= 0")

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times


@dataclass
class Faults:
    """The fault configuration of a running simulator (all off by default).

    latency_s: seconds from a GET's arrival to its answer.
    rules: `FaultRule`s, checked in order (see the module docstring for how they fire).
    deleted_groups: group ids or targetNames whose `/members` call answers 404.
    rate_limit: requests answered per sliding second before a 429 (0: no limit).
    """

    latency_s: float = 0.0
    rules: list[FaultRule] = field(default_factory=list)
    deleted_groups: set[str] = field(default_factory=set)
    rate_limit: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)
    _answered: deque[float] = field(default_factory=deque, init=False, repr=False, compare=False)

    def over_rate_limit(self, now: float | None = None) -> bool:
        """Whether this request is refused by `rate_limit`; counts it in the window when it is not."""
        if self.rate_limit <= 0:
            return False
        now = time.monotonic() if now is None else now
        with self._lock:
            window = self._answered
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= self.rate_limit:
                return True
            window.append(now)
            return False

    def add(self, *rules: FaultRule) -> Faults:
        """Append rules (thread-safe); returns self so calls chain."""
        with self._lock:
            self.rules.extend(rules)
        return self

    def delete_groups(self, keys: Iterable[str]) -> Faults:
        """Make the members call of these groups (ids or targetNames) answer 404."""
        with self._lock:
            self.deleted_groups = self.deleted_groups | set(keys)
        return self

    def clear(self) -> None:
        """Switch every fault off."""
        with self._lock:
            self.rules = []
            self.deleted_groups = set()
            self.latency_s = 0.0

    def take(self, path_with_query: str, page_offset: int | None = None) -> FaultRule | None:
        """Count this request against the matching rules and return the rule that fires, if any.

        `page_offset` is the offset of the list page the request asks for, None when it is not a
        page (an error answer): page kinds only match pages, later-page kinds only offsets > 0.
        """
        with self._lock:
            chosen: FaultRule | None = None
            for rule in self.rules:
                if rule.path_contains not in path_with_query:
                    continue
                if rule.kind in PAGE_KINDS and page_offset is None:
                    continue
                if rule.kind in LATER_PAGE_KINDS and not page_offset:
                    continue
                rule.seen += 1
                if chosen is None and rule.seen > rule.after and not rule.exhausted:
                    rule.fired += 1
                    chosen = rule
            return chosen

    def is_deleted(self, group_id: str, target_name: str) -> bool:
        deleted = self.deleted_groups
        return bool(deleted) and (group_id in deleted or target_name in deleted)
