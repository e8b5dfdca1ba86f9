"""HTTP access to the xMatters REST API: Basic auth, retries, classified errors, paging.

Not `requests`: at a million memberships the extract is CPU-bound, and a `requests` call cost about
four times the CPU of the same urllib3 call (request preparation, hooks and environment merging on
every call). Without a proxy, the calls go over kept-alive `http.client` connections, one per
thread (`direct_http.py`: half urllib3's CPU per call again); through a proxy (HTTP or SOCKS),
over one `urllib3.PoolManager` shared by the threads. Environment proxies and CA bundles are
resolved once per client, the way `requests` resolves them; both transports' failures are worded
by `errors.describe_transport`.
Bodies are decoded with orjson when it is installed (dlt depends on it; about twice as fast as the
json module), falling back to `json` for anything orjson refuses so the error classification stays
the same. Redirects are not followed: a redirect is reported, never chased with credentials.
Errors are built outside `except` blocks so no transport exception, whose request carries the
Authorization header, is chained to them.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, NamedTuple
from urllib.parse import quote, unquote, urlencode, urlsplit

import certifi
import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    InvalidChunkLength,
    NameResolutionError,
    NewConnectionError,
    ProxyError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import ProtocolError as Urllib3ProtocolError

try:  # a dlt dependency; the json module is the fallback
    import orjson
except ImportError:  # pragma: no cover - dlt always brings it
    orjson = None  # type: ignore[assignment]

from pipelines.halt import park_if_halted
from pipelines.xmatters import settings
from pipelines.xmatters.adaptive import AdaptiveLimit
from pipelines.xmatters.backoff import backoff_delay, retry_after_seconds
from pipelines.xmatters.bounded import (
    TooLarge,
    Watchdog,
    check_declared_length,
    read_bounded,
    watched_pools,
    watching,
)
from pipelines.xmatters.config import XmattersConfig
from pipelines.xmatters.direct_http import DirectConnections, DirectFailure, DirectTooLarge
from pipelines.xmatters.errors import (
    MALFORMED_ATTEMPTS,
    MALFORMED_RESPONSES,
    TLS_FAILURES,
    ProtocolError,
    TransportFailureKind,
    UnavailableError,
    XmattersError,
    describe_status,
    describe_too_large,
    describe_transport,
    error_class_for_status,
    malformed_kind,
    tls_failure_kind,
)
from pipelines.xmatters.http_exchange import MAX_LINE, BadChunk, framing_error
from pipelines.xmatters.item_checks import email_device_key, group_key
from pipelines.xmatters.listing_budget import ListingBudget
from pipelines.xmatters.lone_surrogates import may_hold_lone_surrogates, replace_lone_surrogates
from pipelines.xmatters.member_pages import decode_page as decode_members_page
from pipelines.xmatters.member_pages import member_key
from pipelines.xmatters.paging import AHEAD, AHEAD_MAX_PAGE_BYTES, ChargedBody, ItemKey, item_id, iter_pages
from pipelines.xmatters.people_pages import decode_page as decode_people_page
from pipelines.xmatters.people_pages import person_version_key
from pipelines.xmatters.report import ExtractReport
from pipelines.xmatters.response_budget import BodyBytes, OverCap, ResponseBudget, charging
from pipelines.xmatters.scrub import register_credentials, scrub

logger = logging.getLogger(__name__)

_API_MESSAGE_MAX = 300
_HEADER_SHOWN_MAX = 300  # a header value quoted in a message (a redirect's Location)
_USER_AGENT = "baton-xmatters (dlt source; read-only)"


PageDecoder = Callable[[bytes], Any]  # a body -> the decoded page, or None to decode it generically


class _Transient(NamedTuple):
    """A failed attempt that may pass on retry; `error_class` is raised when the attempts run out."""

    message: str
    error_class: type[XmattersError]
    retry_after: float | None = None
    retryable: bool = True
    throttled: bool = False  # a 429 or 5xx: the server asks for fewer requests (adaptive.py)
    rate_limited: bool = False  # a 429: expected flow control, logged once per client (get_json)
    max_attempts: int | None = None  # fewer than --max-attempts for this failure (a malformed response)


class _Reply(NamedTuple):
    """A fully read HTTP response: what classification and decoding need, nothing of the connection."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes


class XmattersClient:
    """Read-only xMatters client shared by the resources of one extract."""

    def __init__(
        self,
        config: XmattersConfig,
        report: ExtractReport | None = None,
    ) -> None:
        self.config = config.validate()
        self.report = report if report is not None else ExtractReport()
        token = base64.b64encode(f"{config.username}:{config.password}".encode()).decode("ascii")
        register_credentials(config.username, config.password)  # redacted from every message (scrub.py)
        self._headers = {
            "Accept": "application/json",
            "Accept-Encoding": "gzip, deflate",
            "User-Agent": _USER_AGENT,
            "Authorization": f"Basic {token}",
        }
        self._timeout = urllib3.Timeout(connect=config.timeout_s, read=config.timeout_s)
        self._http: DirectConnections | urllib3.PoolManager | None = None
        self._http_lock = threading.Lock()
        self._watchdog = Watchdog()  # bounds whole responses through a proxy (direct_http has its own)
        self._cancelled = threading.Event()
        self._rate_limit_logged = False  # the first 429 retry is a warning; the rest are counted only
        self._answered = False  # a response came from the host: a later NXDOMAIN may be a DNS blip
        self._no_total_warning = (
            threading.Lock()
        )  # taken for good by the one warning of a page without `total`
        self._ahead: ThreadPoolExecutor | None = None  # guessed pages of the people/groups listings
        self.listing_budget = ListingBudget()  # items its unfinished listings hold, bounded
        self.response_budget = ResponseBudget(self._cancelled)  # bytes of bodies and pages held, bounded
        # requests in flight: from CONCURRENCY_START up to --concurrency, halved on 429/5xx
        self.in_flight = AdaptiveLimit(
            min(settings.CONCURRENCY_START, config.concurrency), config.concurrency
        )

    def __repr__(self) -> str:
        return f"XmattersClient(base_url={self.config.base_url!r}, username={self.config.username!r})"

    def host_answered(self) -> None:
        """The host has answered (another client's requests, in this sync): from now on a name that
        does not resolve is a DNS blip, retried, not a wrong base URL failed at once."""
        self._answered = True

    def __enter__(self) -> XmattersClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def cancel(self) -> None:
        """Make calls still running on other threads stop at their next attempt or wait.

        Called only by a resource that is about to raise: a cancelled client means a failing extract.
        """
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def close(self) -> None:
        with self._http_lock:
            http, self._http = self._http, None
            ahead, self._ahead = self._ahead, None
        if ahead is not None:
            ahead.shutdown(wait=True, cancel_futures=True)
        self._watchdog.close()
        if isinstance(http, DirectConnections):
            http.close()
        elif http is not None:
            http.clear()

    # ---- listing -------------------------------------------------------------------------------

    def url(self, path: str, **params: str | int) -> str:
        query = urlencode({**params, "limit": self.config.page_size})
        return f"{self.config.base_url}{path}?{query}"

    def pages(
        self,
        path: str,
        *,
        params: dict[str, str] | None = None,
        key: ItemKey = item_id,
        not_found_hint: str | None = None,
        decode: PageDecoder | None = None,
        ahead: bool = False,
        item_cost: int = 1,
        hand_on_bytes: bool = False,
    ) -> Iterator[list[Any]]:
        """Items of a list endpoint, page by page (`paging.Page`s), each item once; with `ahead`,
        later pages are fetched in parallel while the chain of next links is followed (paging.py).

        A page's bytes stay counted in `response_budget` until the listing takes it, or with
        `hand_on_bytes` until the consumer calls `page.release()` (its items are in a table).
        """

        def fetch(url: str, cap: int | None = None) -> ChargedBody:
            return ChargedBody(*self.get_page(url, not_found_hint=not_found_hint, decode=decode, cap=cap))

        def fetched_ahead(url: str) -> ChargedBody | None:
            # A guessed page waits for its listing, which may itself be waiting for bytes
            # (response_budget.py): its bytes are released at once, so it is held only up to
            # AHEAD_MAX_PAGE_BYTES; a larger page is left for the listing to fetch (None).
            try:
                charged = fetch(url, cap=AHEAD_MAX_PAGE_BYTES)
            except OverCap:
                return None
            charged.bytes.release()
            return charged

        def fetch_ahead(url: str) -> Future[Any]:
            return self._ahead_pool().submit(fetched_ahead, url)

        first = self.url(path, **(params or {}))
        return iter_pages(
            fetch,
            first,
            key=key,
            on_duplicates=self.report.count_duplicates,
            max_pages=self.config.max_pages,
            fetch_ahead=fetch_ahead if ahead else None,
            on_no_total=self._page_without_total,
            budget=self.listing_budget,
            item_cost=item_cost,
            hand_on_bytes=hand_on_bytes,
        )

    def _page_without_total(self, url: str) -> None:
        """One warning per client (a sync has a few: the people and groups listings, the member
        calls): a tenant or proxy that leaves `total` out does so on every listing, and a line per
        group would bury the rest."""
        if not self._no_total_warning.acquire(blocking=False):  # once, whichever thread is first
            return
        logger.warning(
            "the page %s has no 'total' (xMatters documents one on every list page): paging follows "
            "links.next as always, but a change while a listing is read (rows offset paging may skip) "
            "cannot be detected on such listings; rows that moved would be read by the next sync",
            scrub(url),
        )

    def people_pages(self) -> Iterator[list[Any]]:
        """Every person, page by page: `people_pages.PersonItem`s, or dicts from a page the typed
        decoder refused."""
        return self.pages(
            settings.PEOPLE_PATH,
            key=person_version_key,
            not_found_hint="check --base-url",
            decode=decode_people_page,
            ahead=True,
        )

    def group_pages(self) -> Iterator[list[dict]]:
        # the member calls start when every group is listed: its pages in parallel start them sooner.
        # A listed group counts twice against the listing budget: its row waits here for the
        # listing's end (source.groups) and its call waits in the member-call process.
        return self.pages(
            settings.GROUPS_PATH, key=group_key, not_found_hint="check --base-url", ahead=True, item_cost=2
        )

    def _ahead_pool(self) -> ThreadPoolExecutor:
        with self._http_lock:
            if self._ahead is None:
                # people and groups are listed at the same time: AHEAD pages each
                self._ahead = ThreadPoolExecutor(2 * AHEAD, thread_name_prefix="xmatters-ahead")
            return self._ahead

    def email_device_pages(self) -> Iterator[list[dict]]:
        return self.pages(settings.DEVICES_PATH, params={"deviceType": "EMAIL"}, key=email_device_key)

    def group_member_pages(self, group_id: str) -> Iterator[list[Any]]:
        """The member items of one group, page by page, by group id (a name would need encoding and
        can be renamed).

        Items are `member_pages.MemberItem`s, or dicts from a page the typed decoder refused.
        """
        path = settings.MEMBERS_PATH.format(group_id=path_segment(group_id))
        return self.pages(path, key=member_key, decode=decode_members_page, hand_on_bytes=True)

    def group_members(self, group_id: str) -> list[Any]:
        """Every member item of one group (`group_member_pages`), held until the listing ends."""
        items: list[Any] = []
        for page in self.group_member_pages(group_id):
            items.extend(page)
            page.release()
        return items

    # ---- one request ---------------------------------------------------------------------------

    def get_json(
        self, url: str, *, not_found_hint: str | None = None, decode: PageDecoder | None = None
    ) -> Any:
        """GET `url` and decode its JSON (`get_page`, its bytes released)."""
        decoded, body = self.get_page(url, not_found_hint=not_found_hint, decode=decode)
        body.release()
        return decoded

    def get_page(
        self,
        url: str,
        *,
        not_found_hint: str | None = None,
        decode: PageDecoder | None = None,
        cap: int | None = None,
    ) -> tuple[Any, BodyBytes]:
        """GET `url` and decode its JSON, retrying transient failures; raise a classified error.
        The body's bytes stay counted in `response_budget` until the caller releases them; a body
        past `cap` bytes raises `OverCap` (not retried).

        `decode` may decode a successful body first (a typed fast path); when it returns None the
        body is decoded generically, which classifies what is wrong with it.

        Transient: 429, 5xx, connection refused/reset/dropped, timeouts, DNS failures, and a 200
        whose body is not JSON (broken, truncated or a proxy's HTML page): re-reading a page is
        harmless and such glitches pass. A malformed HTTP response gets at most
        `errors.MALFORMED_ATTEMPTS`. Everything else fails at once.
        """
        for attempt in range(1, self.config.max_attempts + 1):
            park_if_halted()  # an interrupted sync sends nothing more (pipelines/halt.py)
            if self._cancelled.is_set():
                raise XmattersError(f"request to {url} cancelled: the extract already failed")
            sent_in = self.in_flight.acquire(self._cancelled)
            if sent_in is None:
                raise XmattersError(f"request to {url} cancelled: the extract already failed")
            self.report.count_request()
            outcome: Any = None
            body = self.response_budget.body(cap)
            try:
                with charging(body):
                    outcome = self._attempt(url, not_found_hint, decode)
            finally:
                self._release(sent_in, outcome)
                if outcome is None or isinstance(outcome, _Transient):
                    body.release()
            if not isinstance(outcome, _Transient):
                return outcome, body
            if not outcome.retryable:
                raise outcome.error_class(outcome.message)
            attempts = min(self.config.max_attempts, outcome.max_attempts or self.config.max_attempts)
            if attempt >= attempts:
                tries = f"{attempt} attempt{'' if attempt == 1 else 's'}"
                raise outcome.error_class(f"{outcome.message} (gave up after {tries})")
            delay = backoff_delay(attempt, self.config.backoff_cap_s, outcome.retry_after)
            capped = outcome.retry_after is not None and outcome.retry_after > delay
            # A rate-limited tenant answers many requests with 429 while the adaptive limit settles
            # (94 of 602 at 100 requests a second): one warning says so, the limit's cuts are logged
            # by adaptive.py, and the extract's summary counts every retry. 5xx and transport
            # failures stay one warning each: they are faults, not flow control.
            quiet = outcome.rate_limited and self._rate_limit_logged
            self._rate_limit_logged = self._rate_limit_logged or outcome.rate_limited
            logger.log(
                logging.DEBUG if quiet else logging.WARNING,
                "%s; retrying in %.1f s (attempt %d/%d)%s",
                scrub(outcome.message.removeprefix("HTTP ")),
                delay,
                attempt + 1,
                attempts,
                f"; Retry-After {outcome.retry_after:.0f} s capped" if capped else "",
            )
            self.report.count_retry()
            self._cancelled.wait(delay)  # a sleep that cancel() interrupts
        raise AssertionError("unreachable")  # pragma: no cover

    def _release(self, sent_in: int, outcome: Any) -> None:
        """Hands the request's slot back: a page grows the limit, a 429/5xx cuts it (and holds new
        requests for its Retry-After, capped like the retry's own wait); anything else leaves it."""
        if isinstance(outcome, _Transient):
            retry_after = outcome.retry_after
            if retry_after is not None:
                retry_after = min(retry_after, self.config.backoff_cap_s)
            self.in_flight.release(sent_in, throttled=outcome.throttled, retry_after=retry_after)
        else:
            self.in_flight.release(sent_in, ok=outcome is not None)

    def _attempt(self, url: str, not_found_hint: str | None, decode: PageDecoder | None) -> Any:
        """One GET: the decoded JSON, a `_Transient` failure, or a raised permanent error."""
        response, transport_failure = self._send(url)
        if response is None:
            return transport_failure
        self._answered = True
        error_class = error_class_for_status(response.status_code)
        if error_class is None:
            decoded = decode(response.content) if decode is not None else None
            return decoded if decoded is not None else _decode_json(response, url)
        detail = describe_status(response.status_code, url, _api_message(response))
        if error_class is UnavailableError:
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            limited = response.status_code == 429
            return _Transient(detail, UnavailableError, retry_after, throttled=True, rate_limited=limited)
        if not_found_hint and response.status_code == 404:
            detail += f" ({not_found_hint})"
        if 300 <= response.status_code < 400:
            raw_location = response.headers.get("Location", "?")
            location = _shortened(raw_location, _HEADER_SHOWN_MAX)
            upgrade = "; use https:// in --base-url" if _to_https_on_the_same_host(url, raw_location) else ""
            detail += f" (redirect to {location}; not followed{upgrade})"
        raise error_class(detail)

    def _send(self, url: str) -> tuple[_Reply | None, _Transient | None]:
        """One GET: (reply, None), or (None, the transport failure described in one line)."""
        transport = self._transport()
        if isinstance(transport, DirectConnections):
            try:
                status, headers, content = transport.get(url, self._headers)
            except DirectFailure as failure:
                return None, self._transport_failure(failure.kind, url)
            except DirectTooLarge as too_large:
                return None, self._too_large(url, too_large.declared)
            return _Reply(status, headers, content), None
        deadline = time.monotonic() + self.config.timeout_s
        with watching(self._watchdog, deadline):  # connect, headers and body: one deadline
            return self._send_urllib3(transport, url, deadline)

    def _send_urllib3(
        self, transport: urllib3.PoolManager, url: str, deadline: float
    ) -> tuple[_Reply | None, _Transient | None]:
        try:
            response = transport.urlopen(
                "GET",
                url,
                headers=self._headers,
                timeout=self._timeout,
                retries=False,  # retries are ours (classified, logged, cancellable); no redirects
                redirect=False,
                preload_content=False,
                decode_content=False,  # decoded here, bounded (bounded.py)
            )
        except SSLError as exc:
            return None, self._transport_failure(tls_failure_kind(exc), url)
        except (Urllib3Error, OSError) as exc:
            kind = _transport_failure_kind(exc)
            if time.monotonic() >= deadline and kind not in ("dns", "refused"):
                # the watchdog cut a response that took too long; through a proxy urllib3 words the
                # cut as a proxy failure (seen on a loaded machine), but it is the same timeout
                kind = "read_timeout"
            return None, self._transport_failure(kind, url)
        limit = self.config.max_response_bytes
        too_large: TooLarge | None = None
        failure: TransportFailureKind | None = None
        try:
            check_declared_length(response.headers.get("Content-Length"), limit)
            content = read_bounded(_body_reader(response), response.headers.get("Content-Encoding"), limit)
            if time.monotonic() >= deadline:  # ended by the watchdog's shutdown, not by the server
                failure = "read_timeout"
        except TooLarge as exc:
            too_large = exc
        except (Urllib3Error, OSError, zlib.error) as exc:
            failure = "read_timeout" if time.monotonic() >= deadline else _body_failure_kind(exc)
        except BaseException:
            response.close()  # left unread (OverCap, a cancelled wait): the connection is spent
            raise
        finally:
            if too_large is not None or failure is not None:
                response.close()  # unread or cut off: the connection cannot serve another request
            response.release_conn()
        if too_large is not None:
            return None, self._too_large(url, too_large.declared)
        if failure is not None:
            return None, self._transport_failure(failure, url)
        return _Reply(response.status, response.headers, content), None

    def _too_large(self, url: str, declared: int | None) -> _Transient:
        # Not retried: the same request gets the same bomb.
        message = describe_too_large(url, self.config.max_response_bytes, declared)
        return _Transient(message, ProtocolError, retryable=False)

    def _transport_failure(self, kind: TransportFailureKind, url: str) -> _Transient:
        if kind == "no_such_host":
            # The resolver says the name does not exist. Before any answer from the host that is a
            # wrong --base-url (a typo, a tenant that is gone): waiting ~30 s for it is no use, so
            # it fails at once, naming the host. Once the host has answered in this sync it is a
            # resolver's blip (a flapping or restarting DNS server): retried as any DNS failure.
            if not self._answered:
                message = describe_transport(kind, url, self.config.timeout_s)
                return _Transient(message, UnavailableError, retryable=False)
            kind = "dns"
        message = describe_transport(kind, url, self.config.timeout_s)
        # A certificate problem does not go away by waiting; a malformed response gets one more
        # try on a new connection (errors.MALFORMED_ATTEMPTS says why); everything else may pass.
        if kind in MALFORMED_RESPONSES:
            return _Transient(message, UnavailableError, max_attempts=MALFORMED_ATTEMPTS)
        return _Transient(message, UnavailableError, retryable=kind not in TLS_FAILURES)

    def _transport(self) -> DirectConnections | urllib3.PoolManager:
        """The shared transport, built on first use with the environment's proxy and CA settings."""
        transport = self._http
        if transport is None:
            with self._http_lock:
                if self._http is None:
                    self._http = _transport(
                        self.config.base_url,
                        self.config.ca_bundle,
                        self.config.concurrency,
                        self.config.timeout_s,
                        self.config.max_response_bytes,
                    )
                transport = self._http
        return transport


def environ_proxy(base_url: str) -> str | None:
    """The proxy `requests` would use for `base_url` from the environment, or None.

    Where urllib reads proxies only from the environment (every POSIX system but macOS, whose
    system settings it also reads) and no variable there names one (`*_proxy`, any case), there is
    none, and requests is not imported: the member-call process needs it for nothing else, and its
    import was ~0.1 of that process's ~0.5 CPU-s of imports and set-up at load ~9 (104 modules;
    docs/benchmarks.md, twenty-eighth round). Otherwise requests' own helpers decide, as before
    (NO_PROXY included).
    """
    if (
        os.name == "posix"
        and sys.platform != "darwin"
        and not any(name.lower().endswith("_proxy") for name in os.environ)
    ):
        return None
    import requests.utils

    return requests.utils.select_proxy(base_url, requests.utils.get_environ_proxies(base_url))


def _transport(
    base_url: str, ca_bundle: str | None, concurrency: int, timeout_s: float, max_body_bytes: int
) -> DirectConnections | urllib3.PoolManager:
    """A transport for `base_url` that trusts and routes like `requests` would (paging never leaves
    its origin): `http.client` connections when no proxy applies, urllib3 through a proxy.

    CA: --ca-bundle, else REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE, else certifi's bundle (requests' own
    order). Proxy: HTTP(S)_PROXY / ALL_PROXY unless NO_PROXY covers the host, resolved by requests'
    own helpers. TLS is always verified.
    """
    ca = (
        ca_bundle
        or os.environ.get("REQUESTS_CA_BUNDLE")
        or os.environ.get("CURL_CA_BUNDLE")
        or certifi.where()
    )
    proxy = environ_proxy(base_url)
    if not proxy:
        return DirectConnections(base_url, ca, timeout_s, max_body_bytes)
    tls: dict[str, Any] = {"cert_reqs": "CERT_REQUIRED"}
    tls["ca_cert_dir" if os.path.isdir(ca) else "ca_certs"] = ca
    pool_size = max(concurrency, 1) + 2  # member threads plus the people/groups listing
    parts = urlsplit(proxy)
    if parts.scheme.lower().startswith("socks"):
        from urllib3.contrib.socks import SOCKSProxyManager  # needs PySocks, as with requests

        return watched_pools(SOCKSProxyManager(proxy, num_pools=4, maxsize=pool_size, **tls))
    proxy_headers = (
        urllib3.make_headers(proxy_basic_auth=f"{unquote(parts.username)}:{unquote(parts.password or '')}")
        if parts.username
        else None
    )
    return watched_pools(
        urllib3.ProxyManager(proxy, num_pools=4, maxsize=pool_size, proxy_headers=proxy_headers, **tls)
    )


def _to_https_on_the_same_host(url: str, location: str) -> bool:
    """An http:// base URL redirected to https on its own host: what a real tenant answers to http."""
    try:
        here, there = urlsplit(url), urlsplit(location)
        return here.scheme == "http" and there.scheme == "https" and here.hostname == there.hostname
    except ValueError:  # a Location that is not a URL
        return False


def _socks_proxy_refused(exc: BaseException) -> bool:
    """A connection refused through a SOCKS proxy is the proxy's: the only connection the client
    opens is to it (a target the proxy cannot reach comes back as a SOCKS reply, `0x05: Connection
    refused`, with no errno). urllib3 raises it as the HTTP proxy's `NewConnectionError`, not a
    `ProxyError`, and it was told as `connection refused by <the xMatters URL>`, a server that was up."""
    if not isinstance(exc, NewConnectionError) or "Errno 111" not in str(exc):
        return False
    try:
        from urllib3.contrib.socks import SOCKSConnection  # needs PySocks: no SOCKS proxy without it
    except ImportError:
        return False
    return isinstance(getattr(exc, "conn", None), SOCKSConnection)  # `bounded.watched_pools` subclasses it


def _transport_failure_kind(exc: BaseException) -> TransportFailureKind:
    """What went wrong before a response (judged from urllib3's exception type and text)."""
    text = str(exc)
    if isinstance(exc, ProxyError) or _socks_proxy_refused(exc):
        return "proxy"
    if isinstance(exc, NameResolutionError) or (
        "NameResolution" in text or "Name or service not known" in text or "getaddrinfo" in text
    ):
        return "dns"
    if isinstance(exc, NewConnectionError):  # a subclass of ConnectTimeoutError: test it first
        return "refused" if "Connection refused" in text or "Errno 111" in text else "connect_error"
    if isinstance(exc, ConnectTimeoutError):
        return "connect_timeout"
    if isinstance(exc, ReadTimeoutError):
        return "read_timeout"
    malformed = malformed_kind(exc)  # before "reset": its text may hold a status line that says so
    if malformed is not None:
        return malformed
    if isinstance(exc, Urllib3ProtocolError | OSError) and (
        "reset" in text.lower() or "RemoteDisconnected" in text or "aborted" in text.lower()
    ):
        return "reset"
    return "connect_error"


def _body_reader(response: urllib3.BaseHTTPResponse) -> Callable[[int], bytes]:
    """`read1(n)` of the raw body for `read_bounded`. A chunked body is read by urllib3's own chunk
    parser: http.client's (what `response.read` uses) raises the same `IncompleteRead` for a chunk
    size that is not one as for a connection that ended, and `_body_failure_kind` tells them apart."""
    if not response.chunked:
        return lambda amount: response.read(amount, decode_content=False)
    _check_chunk_ends(response)
    chunks: Iterator[bytes] | None = None

    def read1(amount: int) -> bytes:
        nonlocal chunks
        if chunks is None:
            chunks = response.read_chunked(amount, decode_content=False)
        return next(chunks, b"")

    return read1


def _check_chunk_ends(response: urllib3.BaseHTTPResponse) -> None:
    """Makes this response's chunk reader check each chunk's end, as `http_exchange` does.

    urllib3's `_handle_chunk` reads a chunk and tosses the next two bytes unread: a chunk longer
    than its size line said (`5\r\nhelloXY2\r\n...`) lost "XY", the rest parsed as the next chunk,
    and a corrupt body read as valid. Here the chunk's end is read as a line: CRLF (or a bare LF,
    as http.client accepts), else `BadChunk` ("bad chunked encoding", not retried like a dropped
    connection); a line the connection's end cut short is the body cut off (`IncompleteRead`).
    Only this response's method is replaced: urllib3's read loop, its errors and the connection's
    return to the pool stay urllib3's.
    """
    raw: Any = getattr(response, "_fp", None)  # the http.client.HTTPResponse under it
    if raw is None or not hasattr(raw, "_safe_read") or not hasattr(response, "_handle_chunk"):
        return

    def handle_chunk(amount: int | None) -> bytes:
        left: int = response.chunk_left  # type: ignore[attr-defined]
        if amount is not None and amount < left:
            data: bytes = raw._safe_read(amount)
            response.chunk_left = left - amount  # type: ignore[attr-defined]
            return data
        data = raw._safe_read(left)
        end = raw.fp.readline(MAX_LINE + 1)
        if end not in (b"\r\n", b"\n"):
            raise BadChunk() if len(end) > MAX_LINE else framing_error(end)
        response.chunk_left = None  # type: ignore[attr-defined]
        return data

    response._handle_chunk = handle_chunk  # type: ignore[attr-defined]


def _body_failure_kind(exc: BaseException) -> TransportFailureKind:
    """A failure after the status line: the body was cut off, undecodable, too slow, or its chunked
    framing broken (as `direct_http` words it: a whole line that is not a chunk size, or one over
    64 KiB; urllib3 words the second itself)."""
    if isinstance(exc, ReadTimeoutError):
        return "read_timeout"
    for item in (exc, *exc.args):
        if isinstance(item, InvalidChunkLength):
            return "bad_chunked" if item.length.endswith(b"\n") else "dropped"
    if isinstance(exc, Urllib3ProtocolError) and "chunk size line exceeded" in str(exc):
        return "bad_chunked"
    return malformed_kind(exc) or "dropped"


def path_segment(value: str) -> str:
    """`value` as one path segment: `/` and the rest percent-encoded, and `.`/`..` too, which a
    normalising proxy or server would otherwise resolve (`/groups/../members` is `/members`)."""
    if value in (".", ".."):
        return value.replace(".", "%2E")
    return quote(value, safe="")


def _decode_json(response: _Reply, url: str) -> Any:
    """The JSON body, or a `_Transient` protocol failure naming what came instead."""
    if orjson is not None:
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            if "depth" in str(exc).lower():  # nested past orjson's 1024 levels
                return _Transient(_too_deep(response, url), ProtocolError)
            # otherwise the json module decides, and names what is wrong the way the messages expect
    content_type = response.headers.get("Content-Type", "")
    try:
        decoded = json.loads(response.content)
        if may_hold_lone_surrogates(response.content):  # orjson refuses them; json keeps them as is
            decoded = replace_lone_surrogates(decoded)
        return decoded
    except RecursionError:  # the stdlib parser recurses per level: a deep document is refused
        message = _too_deep(response, url)
    except (ValueError, UnicodeDecodeError) as exc:
        size = len(response.content)
        status = response.status_code
        if "json" not in content_type.lower():
            shown = _shortened(content_type.split(";")[0].strip(), 80) or "no content type"
            message = f"expected JSON from {url} (HTTP {status}) but got {shown}"
        elif (refused := _too_many_digits(exc)) is not None:
            digits, limit = refused
            message = (
                f"a number with {digits:,} digits in {url} exceeds the limit of {limit:,} digits "
                f"(HTTP {status}, {size} bytes)"
            )
        elif isinstance(exc, json.JSONDecodeError) and _ends_early(exc):
            message = f"truncated JSON from {url} (HTTP {status}, ended after {size} bytes)"
        elif isinstance(exc, UnicodeDecodeError):
            where = f"not UTF-8 at byte {exc.start}"
            message = f"malformed JSON from {url} (HTTP {status}, {size} bytes, {where})"
        else:
            message = f"malformed JSON from {url} (HTTP {status}, {size} bytes)"
    return _Transient(message, ProtocolError)


def _too_many_digits(exc: BaseException) -> tuple[int, int] | None:
    """The digits of an integer Python refused to read and its limit (`sys.int_info`, 4,300 by
    default: the conversion takes quadratic time), or None for any other error. The json module
    raises a plain ValueError for it, which read as "malformed JSON" of a body that is well formed."""
    found = _DIGITS_REFUSED.match(str(exc)) if type(exc) is ValueError else None
    return (int(found.group(2)), int(found.group(1))) if found else None


_DIGITS_REFUSED = re.compile(
    r"Exceeds the limit \((\d+) digits\) for integer string conversion: value has (\d+) digits"
)


def _too_deep(response: _Reply, url: str) -> str:
    size = len(response.content)
    return f"malformed JSON from {url} (HTTP {response.status_code}, {size} bytes, nested too deep to read)"


def _shortened(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _ends_early(exc: json.JSONDecodeError) -> bool:
    """The document stopped before the JSON did (cut mid-string or before a closing bracket)."""
    return exc.msg.startswith("Unterminated string") or exc.pos >= len(exc.doc.rstrip())


def _api_message(response: _Reply) -> str | None:
    """The `message` of an xMatters error body, shortened to one line."""
    try:
        body = orjson.loads(response.content) if orjson is not None else json.loads(response.content)
    except (ValueError, UnicodeDecodeError, RecursionError):  # orjson's error is a ValueError
        return None
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(message, str) or not message.strip():
        return None
    return _shortened(" ".join(message.split()), _API_MESSAGE_MAX)
