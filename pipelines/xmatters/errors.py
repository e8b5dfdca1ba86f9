"""Errors of the xMatters extractor, classified once from the HTTP outcome.

Every message is one line that names what is at fault (the flag or env var, the URL, the HTTP
status and the message xMatters sent) so a user can act on it without a stack trace. Messages
never contain credentials: URLs are built from a validated base URL that carries no user info,
and exceptions are raised outside of `except` blocks (or `from None`) so no chained `requests`
exception, whose request object holds the Authorization header, travels with them.
"""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Iterator
from typing import Any, Literal
from urllib.parse import urlsplit

from pipelines.xmatters.http_exchange import MAX_HEADERS, BadChunk
from pipelines.xmatters.scrub import scrub

PREFIX = "xmatters"


class XmattersError(Exception):
    """Base of every error the extractor raises on purpose.

    The message is made safe here, the one place every error passes: one line, the secrets of this
    process redacted and control characters shown escaped (`scrub`), because parts of it (an API
    message, a header, a link) come from the server.
    """

    def __init__(self, message: str) -> None:
        super().__init__(f"{PREFIX}: {scrub(' '.join(message.split()))}")

    def __reduce__(self) -> tuple[Any, ...]:
        # Unpickled (a copy made by any library that pickles exceptions) as it was, not prefixed twice.
        return _restore, (type(self), str(self))


def _restore(cls: type[XmattersError], text: str) -> XmattersError:
    error = cls.__new__(cls)
    Exception.__init__(error, text)
    return error


class ConfigError(XmattersError):
    """A setting is missing or unsafe; raised before any request is made."""


class AuthError(XmattersError):
    """401 (bad credentials) or 403 (the account may not read this endpoint)."""


class NotFoundError(XmattersError):
    """404: a wrong base URL for list endpoints, a deleted group for a members call."""


class UnavailableError(XmattersError):
    """The server could not be reached or kept failing after every retry (429, 5xx, resets, timeouts)."""


class ProtocolError(XmattersError):
    """The server answered something the xMatters API never sends: broken JSON, HTML, bad paging."""


def error_class_for_status(status: int) -> type[XmattersError] | None:
    """The one place that maps an HTTP status to an outcome.

    None means success. `UnavailableError` means transient: the client retries it and raises it
    only when the attempts are exhausted. Every other class fails the call at once.
    """
    if 200 <= status < 300:
        return None
    if status in (401, 403):
        return AuthError
    if status == 404:
        return NotFoundError
    if status == 429 or status >= 500:
        return UnavailableError
    return ProtocolError


# Where the credentials of a 401 come from: the CLI's and the Dagster runs' settings. The dlt-only
# route (`python -m pipelines.xmatters_pipeline`) puts `DLT_CREDENTIALS_HINT` in its place when it
# read them from dlt's configuration.
# Every way the CLI takes them: a secret from --password-file was told to check --password.
CREDENTIALS_HINT = (
    "check the user name and password: --username, --password or --password-file; "
    "BATON_USERNAME, BATON_PASSWORD or BATON_PASSWORD_FILE"
)


def dlt_keys(*keys: str) -> str:
    """Where the dlt-only route reads `keys` of the source: its messages name them with these words."""
    variables = "/".join(f"SOURCES__XMATTERS__{key.upper()}" for key in keys)
    return (
        f"{' and '.join(keys)} under [sources.xmatters] in .dlt/config.toml or .dlt/secrets.toml, "
        f"or {variables}"
    )


DLT_CREDENTIALS_HINT = f"check {dlt_keys('username', 'xmatters_password')}"


def with_credentials_hint(error: XmattersError, hint: str) -> XmattersError:
    """`error` with `hint` where it named the CLI's ways to give credentials (a 401's
    `CREDENTIALS_HINT`), for a route that took them otherwise; `error` itself when it named none."""
    text = str(error)
    if CREDENTIALS_HINT not in text:
        return error
    return _restore(type(error), text.replace(CREDENTIALS_HINT, hint))


def describe_status(status: int, url: str, api_message: str | None) -> str:
    """`HTTP 401 from <url>: <xMatters message>` with a hint for the statuses users meet most."""
    text = f"HTTP {status} from {url}"
    if api_message:
        text += f": {api_message}"
    if status == 401:
        text += f" ({CREDENTIALS_HINT})"
    elif status == 403:
        text += " (the account lacks permission to read this endpoint)"
    return text


# Why a request got no complete response, whichever transport sent it (urllib3 or `direct_http`).
TransportFailureKind = Literal[
    "dns",
    "no_such_host",
    "refused",
    "connect_error",
    "connect_timeout",
    "read_timeout",
    "reset",
    "dropped",
    "tls",
    "tls_handshake",
    "proxy",
    "bad_status_line",
    "too_many_headers",
    "header_line_too_long",
    "bad_chunked",
]
_TRANSPORT_MESSAGES: dict[str, str] = {
    "dns": "cannot resolve the host of {url} (DNS lookup failed)",
    "no_such_host": "no such host: {host} does not resolve (DNS); check the base URL {url}",
    "refused": "connection refused by {url}",
    "connect_error": "connection error while requesting {url}",
    "connect_timeout": "connection to {url} timed out after {timeout_s:g} s",
    "read_timeout": "no complete response from {url} within {timeout_s:g} s",
    "reset": "connection reset while requesting {url}",
    "dropped": "connection dropped while reading {url}",
    "proxy": "the proxy failed the request to {url} (check HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY)",
    "tls": "TLS verification failed for {url} (use --ca-bundle for a private certificate authority)",
    "tls_handshake": (
        "TLS handshake with {url} failed (does the server speak https? check the scheme of --base-url)"
    ),
    # What answered is not HTTP/1.x as http.client reads it; the server's bytes are never shown.
    "bad_status_line": "malformed HTTP response from {url} (not an HTTP status line)",
    "too_many_headers": "malformed HTTP response from {url} (more than 100 header lines)",
    "header_line_too_long": "malformed HTTP response from {url} (a header line over 64 KiB)",
    "bad_chunked": "malformed HTTP response from {url} (bad chunked encoding)",
}
# Neither gets better by waiting: not retried.
TLS_FAILURES: tuple[TransportFailureKind, ...] = ("tls", "tls_handshake")
# A response that breaks HTTP/1.1 itself. From the same server it will break it again (a port that
# speaks SSH, a server with a bug), but one case heals: a connection that lost its framing (a proxy
# or server that sent more or less than it framed, so the next answer starts mid-body) gives a good
# answer on a new connection, which every retry uses (both transports close a connection after any
# failure). So one retry, not --max-attempts: at most 2 attempts, each bounded by --timeout and by
# the head limits (100 lines of 64 KiB), i.e. at worst 2 x --timeout plus one backoff wait.
MALFORMED_RESPONSES: tuple[TransportFailureKind, ...] = (
    "bad_status_line",
    "too_many_headers",
    "header_line_too_long",
    "bad_chunked",
)
MALFORMED_ATTEMPTS = 2


def tls_failure_kind(exc: BaseException) -> TransportFailureKind:
    """`tls` for a certificate that failed verification, `tls_handshake` for any other TLS failure.

    Only the first needs `--ca-bundle`; the second is typically https:// sent to a plain-http server
    (OpenSSL's WRONG_VERSION_NUMBER), where a CA bundle hint sends the user the wrong way. urllib3
    wraps the `ssl` error: it is looked for in the arguments and the chain too.
    """
    if any(isinstance(item, ssl.SSLCertVerificationError) for item in _exception_chain(exc)):
        return "tls"
    return "tls_handshake"


def malformed_kind(exc: BaseException) -> TransportFailureKind | None:
    """Which of `MALFORMED_RESPONSES` `exc` means (looked for in its arguments and chain: urllib3
    wraps http.client's exception in its own), or None for any other failure.

    Both transports raise http.client's exceptions with http.client's fixed wording (`http_exchange`
    keeps it), so a `LineTooLong` says which line and the one `HTTPException` of a head with too
    many lines says so; that wording is read here, never shown. A closed connection
    (`RemoteDisconnected`, a `BadStatusLine` too) is not a malformed response.
    """
    for item in _exception_chain(exc):
        if isinstance(item, http.client.RemoteDisconnected):
            return None
        if isinstance(item, http.client.BadStatusLine | http.client.UnknownProtocol):
            return "bad_status_line"
        if isinstance(item, http.client.LineTooLong):
            text = str(item)
            if "status line" in text:
                return "bad_status_line"
            return "header_line_too_long" if "header line" in text else "bad_chunked"
        if isinstance(item, BadChunk):
            return "bad_chunked"
        if type(item) is http.client.HTTPException and str(item) == f"got more than {MAX_HEADERS} headers":
            return "too_many_headers"
    return None


def _exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, then the exceptions in its arguments, cause and context, each once."""
    seen: set[int] = set()
    pending: list[object] = [exc]
    while pending:
        item = pending.pop(0)
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        pending += [*item.args, item.__cause__, item.__context__]


def describe_transport(kind: TransportFailureKind, url: str, timeout_s: float) -> str:
    """One line naming a transport failure; never the exception's own text (object reprs, proxies).

    `timeout_s` bounds the whole response (connect, headers and body), not each read.
    """
    return _TRANSPORT_MESSAGES[kind].format(url=url, timeout_s=timeout_s, host=urlsplit(url).hostname)


def describe_too_large(url: str, limit_bytes: int, declared: int | None = None) -> str:
    """A body over `--max-response-mib`: refused, not retried (a bomb stays a bomb)."""
    limit = f"{limit_bytes / 2**20:g} MiB"
    if declared is not None:
        size = f"declares {declared:,} bytes (Content-Length), over the {limit} limit"
    else:
        size = f"decodes to more than the {limit} limit"
    return f"the response from {url} {size}; refused (raise --max-response-mib if it is genuine)"


def describe_too_many_pages(listing: str, pages: int, total: int | None, needed: int | None = None) -> str:
    """A listing that does not end: `links.next` kept coming past the bound of `iter_pages`.

    `needed`: the pages the first page's `total` takes at its size; more than `pages` when
    `--max-pages` was the bound (`--max-pages 1` on 300 people said the total "allows 1 pages")."""
    if total is None:
        basis = f"the first page has no total and --max-pages is {pages:,}"
    elif needed is not None and needed > pages:
        basis = f"--max-pages is {pages:,}; its first page's total of {total:,} items needs {needed:,}"
    else:
        basis = f"its first page's total of {total:,} items allows {pages:,} pages"
    return f"the listing {listing} links past {pages:,} pages ({basis}); stopped (check --max-pages)"
