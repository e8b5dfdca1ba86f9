"""Keep-alive `http.client` connections, one per thread, for an xMatters host reached without a proxy.

Why not urllib3 here: a large tenant's extract is ten thousand member calls on 8 threads that share
one GIL, and a GET through urllib3's pool manager costs about twice the CPU of the same GET on a
kept-alive `http.client` connection (0.5 against 0.25 ms per members page, `docs/benchmarks.md`,
sixth round): its retry, timeout, header and response wrappers run on every call. urllib3 stays the
transport whenever a proxy applies (HTTP or SOCKS); this one does what urllib3 did for us without one:

- a connection is reused only while the server has not closed it (checked before each request,
  the way urllib3 checks a pooled connection), and any failure closes it;
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

from urllib3.util.wait import wait_for_read

from pipelines.xmatters.bounded import TooLarge, Watchdog, check_declared_length, read_bounded
from pipelines.xmatters.config import url_origin
from pipelines.xmatters.errors import TLS_FAILURES, TransportFailureKind, tls_failure_kind

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

    def get(self, url: str, headers: Mapping[str, str]) -> tuple[int, http.client.HTTPMessage, bytes]:
        """(status, headers, decoded body) of one GET within the timeout; raises `DirectFailure`
        (a `read_timeout` once the whole response took longer) or `DirectTooLarge`."""
        deadline = time.monotonic() + self._timeout
        target = self._target(url)
        connection = self._connection()
        if connection.sock is None:
            _in_phase(connection, _connect_failure, connection.connect, deadline)
        sock = connection.sock
        token = self._watchdog.watch(sock, deadline) if sock is not None else None
        try:

            def exchange() -> http.client.HTTPResponse:
                connection.request("GET", target, headers=headers)
                return connection.getresponse()

            response = _in_phase(connection, _response_failure, exchange, deadline)

            def body() -> bytes:
                check_declared_length(response.headers.get("Content-Length"), self._max_body)
                content = read_bounded(
                    response.read1, response.headers.get("Content-Encoding"), self._max_body
                )
                if response.length or time.monotonic() >= deadline:  # cut short (maybe by the watchdog)
                    raise http.client.IncompleteRead(content, response.length)
                response.read()  # b"": marks the response done, so the connection serves the next one
                return content

            try:
                content = _in_phase(connection, _body_failure, body, deadline)
            except TooLarge as too_large:
                declared = too_large.declared
            else:
                return response.status, response.headers, content
        finally:
            if token is not None:
                self._watchdog.release(token)
        raise DirectTooLarge(declared)

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

    def _connection(self) -> http.client.HTTPConnection:
        """This thread's connection, closed first if the server closed it while it was idle."""
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            _scheme, host, port = self._origin
            if self._context is not None:
                connection = http.client.HTTPSConnection(
                    host, port, timeout=self._timeout, context=self._context
                )
            else:
                connection = http.client.HTTPConnection(host, port, timeout=self._timeout)
            self._local.connection = connection
            with self._lock:
                self._opened.append(connection)
        elif connection.sock is not None and wait_for_read(connection.sock, timeout=0.0):
            connection.close()  # readable while idle: closed by the server (or stray bytes): reconnect
        return connection


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
        if time.monotonic() >= deadline and kind not in ("dns", "refused", *TLS_FAILURES):
            kind = "connect_timeout" if classify is _connect_failure else "read_timeout"
    raise DirectFailure(kind) from None


def _connect_failure(exc: BaseException) -> TransportFailureKind | None:
    if isinstance(exc, ssl.SSLError):  # before OSError: it is one; a certificate does not get better
        return tls_failure_kind(exc)
    if isinstance(exc, socket.gaierror):
        return "dns"
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
    if isinstance(exc, http.client.RemoteDisconnected | ConnectionError):  # closed, reset, broken pipe
        return "reset"
    if isinstance(exc, http.client.HTTPException | OSError):
        return "connect_error"
    return None


def _body_failure(exc: BaseException) -> TransportFailureKind | None:
    if isinstance(exc, TimeoutError):
        return "read_timeout"
    if isinstance(exc, http.client.HTTPException | OSError | zlib.error | EOFError):
        return "dropped"  # cut off (IncompleteRead), reset, or a body its encoding cannot decode
    return None
