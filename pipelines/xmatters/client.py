"""HTTP access to the xMatters REST API: Basic auth, retries, classified errors, paging.

One `requests.Session` per thread (the member calls run on a thread pool and `Session` is not
documented as thread-safe). Redirects are not followed: a redirect is reported, never chased with
credentials. Errors are built outside `except` blocks so no `requests` exception, whose request
carries the Authorization header, is chained to them.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Iterator
from typing import Any, NamedTuple
from urllib.parse import quote, urlencode

import requests
from requests.auth import AuthBase

from pipelines.xmatters import settings
from pipelines.xmatters.backoff import backoff_delay, retry_after_seconds
from pipelines.xmatters.config import XmattersConfig
from pipelines.xmatters.errors import (
    ProtocolError,
    UnavailableError,
    XmattersError,
    describe_status,
    error_class_for_status,
)
from pipelines.xmatters.paging import ItemKey, item_id, iter_pages, member_id
from pipelines.xmatters.report import ExtractReport

logger = logging.getLogger(__name__)

_API_MESSAGE_MAX = 300
_USER_AGENT = "baton-xmatters (dlt source; read-only)"


class _Transient(NamedTuple):
    """A failed attempt that may pass on retry; `error_class` is raised when the attempts run out."""

    message: str
    error_class: type[XmattersError]
    retry_after: float | None = None
    retryable: bool = True


class _BasicAuth(AuthBase):
    """HTTP Basic auth whose repr shows the user name only (requests' tuple auth would show the password)."""

    def __init__(self, username: str, password: str) -> None:
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        self._header = f"Basic {token}"
        self.username = username

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._header
        return request

    def __repr__(self) -> str:
        return f"_BasicAuth(username={self.username!r})"


class XmattersClient:
    """Read-only xMatters client shared by the resources of one extract."""

    def __init__(
        self,
        config: XmattersConfig,
        report: ExtractReport | None = None,
    ) -> None:
        self.config = config.validate()
        self.report = report if report is not None else ExtractReport()
        self._auth = _BasicAuth(config.username, config.password)
        self._verify: bool | str = config.ca_bundle or True
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()
        self._cancelled = threading.Event()

    def __repr__(self) -> str:
        return f"XmattersClient(base_url={self.config.base_url!r}, username={self.config.username!r})"

    def __enter__(self) -> XmattersClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def cancel(self) -> None:
        """Make calls still running on other threads stop at their next attempt or wait."""
        self._cancelled.set()

    def close(self) -> None:
        with self._sessions_lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()

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
    ) -> Iterator[list[dict]]:
        """Items of a list endpoint, page by page, each item once."""

        def fetch(url: str) -> Any:
            return self.get_json(url, not_found_hint=not_found_hint)

        first = self.url(path, **(params or {}))
        return iter_pages(fetch, first, key=key, on_duplicates=self.report.count_duplicates)

    def people_pages(self) -> Iterator[list[dict]]:
        return self.pages(settings.PEOPLE_PATH, not_found_hint="check --base-url")

    def group_pages(self) -> Iterator[list[dict]]:
        return self.pages(settings.GROUPS_PATH, not_found_hint="check --base-url")

    def email_device_pages(self) -> Iterator[list[dict]]:
        return self.pages(settings.DEVICES_PATH, params={"deviceType": "EMAIL"})

    def group_members(self, group_id: str) -> list[dict]:
        """Every member item of one group, by group id (a name would need encoding and can be renamed)."""
        path = settings.MEMBERS_PATH.format(group_id=quote(group_id, safe=""))
        return [item for page in self.pages(path, key=member_id) for item in page]

    # ---- one request ---------------------------------------------------------------------------

    def get_json(self, url: str, *, not_found_hint: str | None = None) -> Any:
        """GET `url` and decode its JSON, retrying transient failures; raise a classified error.

        Transient: 429, 5xx, connection refused/reset/dropped, timeouts, DNS failures, and a 200
        whose body is not JSON (broken, truncated or a proxy's HTML page): re-reading a page is
        harmless and such glitches pass. Everything else fails at once.
        """
        attempts = self.config.max_attempts
        for attempt in range(1, attempts + 1):
            if self._cancelled.is_set():
                raise XmattersError(f"request to {url} cancelled: the extract already failed")
            self.report.count_request()
            outcome = self._attempt(url, not_found_hint)
            if not isinstance(outcome, _Transient):
                return outcome
            if not outcome.retryable:
                raise outcome.error_class(outcome.message)
            if attempt == attempts:
                raise outcome.error_class(f"{outcome.message} (gave up after {attempts} attempts)")
            delay = backoff_delay(attempt, self.config.backoff_cap_s, outcome.retry_after)
            capped = outcome.retry_after is not None and outcome.retry_after > delay
            logger.warning(
                "%s; retrying in %.1f s%s (attempt %d/%d)",
                outcome.message.removeprefix("HTTP "),
                delay,
                f" (Retry-After {outcome.retry_after:.0f} s capped)" if capped else "",
                attempt + 1,
                attempts,
            )
            self.report.count_retry()
            self._cancelled.wait(delay)  # a sleep that cancel() interrupts
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(self, url: str, not_found_hint: str | None) -> Any:
        """One GET: the decoded JSON, a `_Transient` failure, or a raised permanent error."""
        response, transport_failure = self._send(url)
        if response is None:
            return transport_failure
        error_class = error_class_for_status(response.status_code)
        if error_class is None:
            return _decode_json(response, url)
        detail = describe_status(response.status_code, url, _api_message(response))
        if error_class is UnavailableError:
            return _Transient(
                detail, UnavailableError, retry_after_seconds(response.headers.get("Retry-After"))
            )
        if not_found_hint and response.status_code == 404:
            detail += f" ({not_found_hint})"
        if 300 <= response.status_code < 400:
            detail += f" (redirect to {response.headers.get('Location', '?')}; not followed)"
        raise error_class(detail)

    def _send(self, url: str) -> tuple[requests.Response | None, _Transient | None]:
        """One GET: (response, None), or (None, the transport failure described in one line)."""
        try:
            response = self._session().get(
                url,
                auth=self._auth,
                timeout=self.config.timeout_s,
                verify=self._verify,
                allow_redirects=False,
            )
            return response, None
        except requests.exceptions.SSLError:
            # A certificate problem does not go away by waiting.
            message = (
                f"TLS verification failed for {url} (use --ca-bundle for a private certificate authority)"
            )
            return None, _Transient(message, UnavailableError, retryable=False)
        except requests.exceptions.RequestException as exc:
            return None, _Transient(
                _describe_transport_failure(exc, url, self.config.timeout_s), UnavailableError
            )

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers.update({"Accept": "application/json", "User-Agent": _USER_AGENT})
            self._local.session = session
            with self._sessions_lock:
                self._sessions.append(session)
        return session


def _describe_transport_failure(exc: requests.exceptions.RequestException, url: str, timeout_s: float) -> str:
    """Name the failure without the exception text (it embeds object reprs and proxies' details)."""
    text = str(exc)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"connection to {url} timed out after {timeout_s:g} s"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return f"no response from {url} within {timeout_s:g} s"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError):
        return f"connection dropped while reading {url}"
    if isinstance(exc, requests.exceptions.ConnectionError):
        if "NameResolution" in text or "Name or service not known" in text or "getaddrinfo" in text:
            return f"cannot resolve the host of {url} (DNS lookup failed)"
        if "Connection refused" in text or "Errno 111" in text:
            return f"connection refused by {url}"
        if "reset" in text.lower() or "RemoteDisconnected" in text or "aborted" in text.lower():
            return f"connection reset while requesting {url}"
        return f"connection error while requesting {url}"
    return f"request to {url} failed ({type(exc).__name__})"


def _decode_json(response: requests.Response, url: str) -> Any:
    """The JSON body, or a `_Transient` protocol failure naming what came instead."""
    content_type = response.headers.get("Content-Type", "")
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError) as exc:
        size = len(response.content)
        status = response.status_code
        if "json" not in content_type.lower():
            shown = content_type.split(";")[0].strip() or "no content type"
            message = f"expected JSON from {url} (HTTP {status}) but got {shown}"
        elif isinstance(exc, json.JSONDecodeError) and _ends_early(exc):
            message = f"truncated JSON from {url} (HTTP {status}, ended after {size} bytes)"
        else:
            message = f"malformed JSON from {url} (HTTP {status}, {size} bytes)"
    return _Transient(message, ProtocolError)


def _ends_early(exc: json.JSONDecodeError) -> bool:
    """The document stopped before the JSON did (cut mid-string or before a closing bracket)."""
    return exc.msg.startswith("Unterminated string") or exc.pos >= len(exc.doc.rstrip())


def _api_message(response: requests.Response) -> str | None:
    """The `message` of an xMatters error body, shortened to one line."""
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(message, str) or not message.strip():
        return None
    message = " ".join(message.split())
    return message if len(message) <= _API_MESSAGE_MAX else message[: _API_MESSAGE_MAX - 1] + "…"
