"""Bounds on one response, whatever the server does: its decoded size and its total time.

A hostile or broken server can send a small gzip body that inflates to gigabytes, a page of
millions of items, or a body trickled one byte at a time so that no single read ever times out.
Both transports (`direct_http.py` and urllib3 through a proxy) read bodies through these:

- `BoundedBody` decodes gzip/deflate incrementally (`zlib.decompressobj` with `max_length`), so at
  most one chunk beyond the limit is ever inflated, and refuses the body once the decoded bytes
  pass `--max-response-mib`;
- `Watchdog` shuts down the socket of a response whose deadline (`--timeout` from the start of the
  request) has passed; a socket timeout alone bounds each read, not the response. urllib3 opens
  and picks its connections inside one call, so its pools are given connections that report their
  socket to the watchdog of the request running on their thread (`watched_pools`, `watching`).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from typing import Any

from pipelines.xmatters.response_budget import charge_current

_CHUNK = 64 * 1024


class TooLarge(Exception):
    """The body passed the limit (`declared`: the Content-Length that announced it, if any)."""

    def __init__(self, declared: int | None = None) -> None:
        super().__init__(declared)
        self.declared = declared


def check_declared_length(content_length: str | None, limit: int) -> None:
    """Refuse before reading a body whose Content-Length is over the limit."""
    try:
        declared = int(content_length) if content_length else None
    except ValueError:
        return
    if declared is not None and declared > limit:
        raise TooLarge(declared)


class BoundedBody:
    """Collects a body's chunks, decoded per its Content-Encoding, up to `limit` decoded bytes.

    gzip (several members too, as `gzip.decompress` reads them) and deflate (zlib-wrapped as the
    RFC says, or raw as some servers send it) are decoded; any other encoding is kept as sent
    (it is not asked for, and will not parse as JSON). Raises `TooLarge`, or `zlib.error` for a
    body its encoding cannot decode.
    """

    def __init__(self, content_encoding: str | None, limit: int) -> None:
        encoding = (content_encoding or "").strip().lower()
        self._limit = limit
        self._parts: list[bytes] = []
        self._size = 0
        self._wbits: int | None = None
        if encoding in ("gzip", "x-gzip"):
            self._wbits = 16 + zlib.MAX_WBITS
        elif encoding == "deflate":
            self._wbits = zlib.MAX_WBITS
        self._decoder = zlib.decompressobj(self._wbits) if self._wbits is not None else None
        self._raw_start = b""  # the first input, kept to retry deflate as raw
        self._fed = False

    def feed(self, chunk: bytes) -> None:
        self._fed = self._fed or bool(chunk)
        if self._decoder is None:
            self._keep(chunk)
            return
        if self._wbits == zlib.MAX_WBITS and self._size == 0 and len(self._raw_start) < 1024:
            self._raw_start += chunk
        data = chunk
        while data:
            if self._decoder.eof:  # a gzip body of several members: the next one starts here
                data = self._decoder.unused_data + data if self._decoder.unused_data else data
                self._decoder = zlib.decompressobj(self._wbits)
            try:
                out = self._decoder.decompress(data, self._limit - self._size + 1)
            except zlib.error:
                if self._wbits != zlib.MAX_WBITS or self._size:
                    raise
                self._wbits = -zlib.MAX_WBITS  # deflate without the zlib wrapper
                self._decoder = zlib.decompressobj(self._wbits)
                data, self._raw_start = self._raw_start, b""
                continue
            self._keep(out)
            data = self._decoder.unconsumed_tail
            if not data and self._decoder.eof and self._decoder.unused_data:
                data = self._decoder.unused_data
                self._decoder = zlib.decompressobj(self._wbits)

    def finish(self) -> bytes:
        if self._decoder is not None and self._fed and not self._decoder.eof:
            raise zlib.error("the compressed body ended early")
        return b"".join(self._parts)

    def _keep(self, data: bytes) -> None:
        if not data:
            return
        self._size += len(data)
        if self._size > self._limit:
            raise TooLarge()
        charge_current(len(data))  # the client's bytes held at once (response_budget.py); may wait
        self._parts.append(data)


def read_bounded(read1: object, content_encoding: str | None, limit: int) -> bytes:
    """The decoded body from `read1(n)` calls (at most one socket read each) until it returns b""."""
    body = BoundedBody(content_encoding, limit)
    while chunk := read1(_CHUNK):  # type: ignore[operator]
        body.feed(chunk)
    return body.finish()


class Watchdog:
    """Shuts down the sockets of responses past their deadline; one thread per transport.

    `watch(sock, deadline)` before a request, `release(token)` after it. The thread sleeps until
    the earliest deadline (deadlines only grow, so new ones rarely wake it). A shut-down socket
    makes the blocked read return; the caller sees its deadline passed and reports a timeout.
    """

    def __init__(self) -> None:
        self._watched: dict[int, tuple[socket.socket, float]] = {}
        self._next = 0
        self._cond = threading.Condition()
        self._wake_at: float | None = None
        self._generation = 0  # close() starts a new one; a thread serves only its own
        self._running = -1  # the generation whose thread runs

    def watch(self, sock: socket.socket, deadline: float) -> int:
        with self._cond:
            token = self._next
            self._next += 1
            self._watched[token] = (sock, deadline)
            if self._running != self._generation:  # first use, or used again after close()
                self._running = self._generation
                thread = threading.Thread(
                    target=self._run, args=(self._generation,), name="xmatters-deadlines", daemon=True
                )
                thread.start()
            elif self._wake_at is None or deadline < self._wake_at:
                self._cond.notify()
            return token

    def release(self, token: int) -> None:
        with self._cond:
            self._watched.pop(token, None)

    def close(self) -> None:
        with self._cond:
            self._generation += 1
            self._watched.clear()
            self._cond.notify_all()

    def _run(self, generation: int) -> None:
        with self._cond:
            while self._generation == generation:
                now = time.monotonic()
                for token, (sock, deadline) in list(self._watched.items()):
                    if deadline <= now:
                        del self._watched[token]
                        with contextlib.suppress(OSError):
                            sock.shutdown(socket.SHUT_RDWR)
                earliest = min((deadline for _sock, deadline in self._watched.values()), default=None)
                self._wake_at = earliest
                self._cond.wait(None if earliest is None else max(earliest - now, 0.01))


_current = threading.local()  # the watchdog and deadline of the request running on this thread


@contextlib.contextmanager
def watching(watchdog: Watchdog, deadline: float) -> Iterator[None]:
    """Within this block, every socket a watched urllib3 connection uses on this thread is shut
    down at `deadline`; leaving it releases them."""
    tokens: list[int] = []
    _current.watch = lambda sock: tokens.append(watchdog.watch(sock, deadline))
    try:
        yield
    finally:
        _current.watch = None
        for token in tokens:
            watchdog.release(token)


class _WatchedConnection:
    """Mixed into a urllib3 connection class: its socket, new or reused, is watched (`watching`)."""

    sock: socket.socket | None

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        _watch(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch(self.sock)
        super().request(*args, **kwargs)  # type: ignore[misc]


def _watch(sock: socket.socket | None) -> None:
    watch = getattr(_current, "watch", None)
    if watch is not None and sock is not None:
        watch(sock)


def watched_pools(manager: Any) -> Any:
    """`manager` (a urllib3 PoolManager, ProxyManager or SOCKSProxyManager) with pools whose
    connections are watched; returns it."""
    manager.pool_classes_by_scheme = {
        scheme: _watched_pool(pool_class) for scheme, pool_class in manager.pool_classes_by_scheme.items()
    }
    return manager


_watched_classes: dict[type, type] = {}


def _watched_pool(pool_class: type) -> type:
    watched = _watched_classes.get(pool_class)
    if watched is None:
        base = pool_class.ConnectionCls  # type: ignore[attr-defined]
        connection = type(f"Watched{base.__name__}", (_WatchedConnection, base), {})
        watched = type(f"Watched{pool_class.__name__}", (pool_class,), {"ConnectionCls": connection})
        _watched_classes[pool_class] = watched
    return watched
