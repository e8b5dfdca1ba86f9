"""Keep-alive `http.client` connections, one per thread, for an xMatters host reached without a proxy.

Why not urllib3 here: a large tenant's extract is ten thousand member calls on 8 threads that share
one GIL, and a GET through urllib3's pool manager costs about twice the CPU of the same GET on a
kept-alive `http.client` connection (0.5 against 0.25 ms per members page, `docs/benchmarks.md`,
sixth round): its retry, timeout, header and response wrappers run on every call. urllib3 stays the
transport whenever a proxy applies (HTTP or SOCKS); this one does what urllib3 did for us without one:

- requests and responses are written and read by `http_exchange` (http.client's limits and
  exceptions, without its per-header Python and the `email` parser), on `http.client`'s connections;
- a kept-alive connection the server closed while it was idle is found by using it: a GET that got
  no byte of its answer on a reused connection is sent once more on a new one (not counted as a
  retry); any other failure closes the connection, and so does a response that ends it;
- TLS is verified against the same CA bundle, host name included;
- gzip and deflate bodies are decoded incrementally, and refused past the size limit; the whole
  response (connect, headers, body) must arrive within the timeout (`bounded.py`);
- redirects are never followed (there is no code for it);
- every failure is raised as a `DirectFailure` whose `kind` says in which phase it happened, so the
  client words it exactly as it words urllib3's (`errors.describe_transport`).
"""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from typing import TypeVar
from urllib.parse import urlsplit

from pipelines.xmatters import http_exchange
from pipelines.xmatters.bounded import TooLarge, Watchdog, check_declared_length, read_bounded
from pipelines.xmatters.config import url_origin
from pipelines.xmatters.errors import TLS_FAILURES, TransportFailureKind, malformed_kind, tls_failure_kind
from pipelines.xmatters.http_exchange import ResponseHeaders

T = TypeVar("T")


class DirectFailure(Exception):
    """A GET that did not give a complete response; `kind` names the phase and cause."""

    def __init__(self, kind: TransportFailureKind) -> None:
        super().__init__(kind)
        self.kind = kind


class DirectTooLarge(Exception):
    """The body is over the size limit (`declared`: its Content-Length, when that said so)."""

    def __init__(self, declared: int | None) -> None:
        super().__init__(declared)
        self.declared = declared


class DirectConnections:
    """GETs to one origin (`base_url`'s scheme, host and port) over one connection per thread."""

    def __init__(self, base_url: str, ca: str, timeout_s: float, max_body_bytes: int) -> None:
        parts = urlsplit(base_url)
        self._max_body = max_body_bytes
        self._watchdog = Watchdog()
        self._origin = url_origin(base_url)
        self._prefix = f"{parts.scheme}://{parts.netloc}"
        self._timeout = timeout_s
        self._context: ssl.SSLContext | None = None
        if self._origin[0] == "https":
            self._context = ssl.create_default_context(
                **({"capath": ca} if os.path.isdir(ca) else {"cafile": ca})
            )
        self._local = threading.local()
        self._lock = threading.Lock()
        self._opened: list[http.client.HTTPConnection] = []

    def get(self, url: str, headers: Mapping[str, str]) -> tuple[int, ResponseHeaders, bytes]:
        """(status, headers, decoded body) of one GET within the timeout; raises `DirectFailure`
        (a `read_timeout` once the whole response took longer) or `DirectTooLarge`.

        A kept-alive connection is not checked before it is used (a poll per request); instead, when
        the server turns out to have closed it (no byte of the answer: a send or a read that finds
        the connection ended), the GET is sent once more on a new connection: a GET is idempotent,
        so sending it again is safe whether or not the server read it (Go's net/http does the same).
        """
        deadline = time.monotonic() + self._timeout
        target = self._target(url)
        link = self._link()
        connection = link.connection
        if link.headers is not headers:
            link.head = http_exchange.request_head(
                connection.host, connection.port, connection.default_port, headers
            )
            link.headers = headers
        try:
            request = http_exchange.request_bytes(target, link.head)
        except http.client.InvalidURL:  # a next link with spaces or control characters
            raise DirectFailure("connect_error") from None
        try:
            return self._exchange(connection, request, deadline)
        except _ClosedWhileIdle:  # the connection is closed now: the second turn opens a new one
            return self._exchange(connection, request, deadline)

    def _exchange(
        self, connection: http.client.HTTPConnection, request: bytes, deadline: float
    ) -> tuple[int, ResponseHeaders, bytes]:
        """One request and its response on `connection` (connected first if it is not)."""
        reused = connection.sock is not None
        if not reused:
            _in_phase(connection, _connect_failure, connection.connect, deadline)
        sock = connection.sock
        assert sock is not None
        response = http_exchange.Response(sock)

        def exchange() -> None:
            try:
                sock.sendall(request)
                response.read_head()
            except (ConnectionError, http.client.RemoteDisconnected):
                if reused and not response.received and time.monotonic() < deadline:
                    raise _ClosedWhileIdle from None
                raise

        def body() -> bytes:
            check_declared_length(response.headers.get("Content-Length"), self._max_body)
            content = read_bounded(response.read1, response.headers.get("Content-Encoding"), self._max_body)
            if response.remaining or time.monotonic() >= deadline:  # cut short (maybe by the watchdog)
                raise http.client.IncompleteRead(content, response.remaining)
            return content

        token = self._watchdog.watch(sock, deadline)
        try:
            _in_phase(connection, _response_failure, exchange, deadline)
            try:
                content = _in_phase(connection, _body_failure, body, deadline)
            except TooLarge as too_large:
                raise DirectTooLarge(too_large.declared) from None
        finally:
            self._watchdog.release(token)
        if not response.reusable:
            connection.close()
        return response.status, response.headers, content

    def close(self) -> None:
        self._watchdog.close()
        with self._lock:
            opened, self._opened = self._opened, []
        for connection in opened:
            connection.close()

    def _target(self, url: str) -> str:
        """The request target (path and query) of a URL of this origin."""
        if url.startswith(self._prefix) and url[len(self._prefix) : len(self._prefix) + 1] in ("/", ""):
            return url[len(self._prefix) :] or "/"
        parts = urlsplit(url)
        if url_origin(url) != self._origin:  # paging already refuses other origins: never reached
            raise ValueError(f"{url} is not on {self._prefix}")
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    def _link(self) -> _Link:
        """This thread's connection (not connected yet, or connected by an earlier request)."""
        link: _Link | None = getattr(self._local, "link", None)
        if link is None:
            _scheme, host, port = self._origin
            if self._context is not None:
                connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                    host, port, timeout=self._timeout, context=self._context
                )
            else:
                connection = http.client.HTTPConnection(host, port, timeout=self._timeout)
            link = self._local.link = _Link(connection)
            with self._lock:
                self._opened.append(connection)
        return link


class _Link:
    """A thread's connection and the request head last built for it (the client's headers do not
    change between its requests: built once, not once per request)."""

    __slots__ = ("connection", "headers", "head")

    def __init__(self, connection: http.client.HTTPConnection) -> None:
        self.connection = connection
        self.headers: Mapping[str, str] | None = None
        self.head = b""


# getaddrinfo's answers that the name does not exist (NXDOMAIN) or has no address; the rest
# (EAI_AGAIN: the resolver did not answer in time, EAI_FAIL, ...) may pass and stay "dns"
NO_SUCH_HOST = frozenset(
    code for code in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", None)) if code is not None
)


class _ClosedWhileIdle(Exception):
    """A reused connection turned out closed before any byte of the answer: send again."""


def _in_phase(
    connection: http.client.HTTPConnection,
    classify: Callable[[BaseException], TransportFailureKind | None],
    step: Callable[[], T],
    deadline: float,
) -> T:
    """`step()`; a failure closes the connection and is raised as a `DirectFailure` of its kind
    (`read_timeout` once the deadline has passed: the watchdog cut the socket, or a read timed out).
    """
    try:
        return step()
    except BaseException as exc:
        connection.close()
        if isinstance(exc, TooLarge):
            raise
        kind = classify(exc)
        if kind is None:
            raise
        if time.monotonic() >= deadline and kind not in ("dns", "no_such_host", "refused", *TLS_FAILURES):
            kind = "connect_timeout" if classify is _connect_failure else "read_timeout"
    raise DirectFailure(kind) from None


def _connect_failure(exc: BaseException) -> TransportFailureKind | None:
    if isinstance(exc, ssl.SSLError):  # before OSError: it is one; a certificate does not get better
        return tls_failure_kind(exc)
    if isinstance(exc, socket.gaierror):
        return "no_such_host" if exc.errno in NO_SUCH_HOST else "dns"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, TimeoutError):
        return "connect_timeout"
    if isinstance(exc, OSError):
        return "connect_error"
    return None


def _response_failure(exc: BaseException) -> TransportFailureKind | None:
    """A failure while sending the request or reading the status line and headers."""
    if isinstance(exc, TimeoutError):
        return "read_timeout"
    malformed = malformed_kind(exc)  # before the rest: a head http.client refuses is not a reset
    if malformed is not None:
        return malformed
    if isinstance(exc, http.client.RemoteDisconnected | ConnectionError):  # closed, reset, broken pipe
        return "reset"
    if isinstance(exc, http.client.HTTPException | OSError):
        return "connect_error"
    return None


def _body_failure(exc: BaseException) -> TransportFailureKind | None:
    if isinstance(exc, TimeoutError):
        return "read_timeout"
    if isinstance(exc, http.client.HTTPException) and (malformed := malformed_kind(exc)) is not None:
        return malformed  # a chunked framing that does not parse
    if isinstance(exc, http.client.HTTPException | OSError | zlib.error | EOFError):
        return "dropped"  # cut off (IncompleteRead), reset, or a body its encoding cannot decode
    return None
