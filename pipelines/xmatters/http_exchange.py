"""One HTTP/1.1 GET on a connected socket: its request bytes, the response's head and its body.

Why not `http.client`'s request and response: a large tenant's extract is ten thousand member calls
on 8 threads that share one GIL, and `http.client` builds every request header by header and parses
every response head with the `email` package (a feed parser, a policy, a `Message`): ~0.1 ms of
Python per call of the ~0.5 ms the member-call process spends (`docs/benchmarks.md`, fifteenth
round). This reads what a GET needs, with `http.client`'s limits and its exceptions, so each failure
is classified and worded as before (`direct_http`):

- the status line as `http.client` reads it (`HTTP/1.0`, `HTTP/0.9` or `HTTP/1.x`, three digits from 100;
  100 Continue skipped), else `BadStatusLine`; no byte at all is `RemoteDisconnected`;
- at most 100 header lines of at most 64 KiB each (`LineTooLong`, `HTTPException`, with
  http.client's words: `errors.malformed_kind` tells them apart for both transports), names
  case-insensitive, the first of a repeated header wins (as `HTTPMessage.get`), folded lines joined;
- the body framed by `Transfer-Encoding: chunked`, else `Content-Length`, else the connection's
  end (and that connection is not reused); none for 1xx, 204 and 304; a chunked body whose
  framing does not parse (a whole line that is not a chunk size or a chunk's end) is a `BadChunk`,
  one cut off by the connection's end an `IncompleteRead` (http.client raises `IncompleteRead`
  for both; the user is told which: a malformed response is not retried like a dropped one);
- `Connection: close` (or HTTP/1.0 without keep-alive) ends the connection after the body, and so
  do bytes after the body (a server that sent more than it framed).
"""

from __future__ import annotations

import http.client
import re
import socket
from collections.abc import Mapping

MAX_LINE = 65536  # http.client._MAXLINE
MAX_HEADERS = 100  # http.client._MAXHEADERS
_RECV = 64 * 1024
_DISALLOWED_IN_TARGET = re.compile("[\x00-\x20\x7f]")  # http.client's check of a request target
_ILLEGAL_VALUE = re.compile(r"\n(?![ \t])|\r(?![ \t\n])")  # http.client's check of a header value
_NO_BODY = frozenset((204, 304))


class BadChunk(http.client.HTTPException):
    """A chunked body's framing is broken: a line where a chunk size or a chunk's end belongs is
    neither (the line itself is not kept: it is the server's bytes)."""


class ResponseHeaders(dict[str, str]):
    """Response headers by lower-case name; `get` and `[]` take any case, as `HTTPMessage` does."""

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return dict.get(self, key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return dict.__getitem__(self, key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and dict.__contains__(self, key.lower())


def request_head(host: str, port: int, default_port: int, headers: Mapping[str, str]) -> bytes:
    """The request's header lines after its request line, as `http.client` would send them for a GET
    without a body (Host first, then `headers` in order; no Accept-Encoding of its own when given)."""
    try:
        host_text = host.encode("ascii").decode("ascii")
    except UnicodeEncodeError:
        host_text = host.encode("idna").decode("ascii")
    if ":" in host_text:
        host_text = f"[{host_text}]"
    lines = [f"Host: {host_text}" if port == default_port else f"Host: {host_text}:{port}"]
    if not any(name.lower() == "accept-encoding" for name in headers):
        lines.append("Accept-Encoding: identity")
    for name, value in headers.items():
        if _ILLEGAL_VALUE.search(value) or not name.isascii() or ":" in name or name != name.strip():
            raise ValueError(f"Invalid header {name!r}")
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def request_bytes(target: str, head: bytes) -> bytes:
    """`GET target HTTP/1.1` and `head`; a target with control characters or spaces is refused
    (`InvalidURL`), as `http.client` refuses it."""
    found = _DISALLOWED_IN_TARGET.search(target)
    if found:
        raise http.client.InvalidURL(
            f"URL can't contain control characters. {target!r} (found at least {found.group()!r})"
        )
    return b"GET " + target.encode("ascii") + b" HTTP/1.1\r\n" + head


class Response:
    """A response being read from `sock`: `read_head()` once, then `read1(n)` until b"".

    `received` says whether any byte of it arrived (a reused connection the server closed while it
    was idle gives none). After the body, `reusable` says whether the connection may serve another
    request.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = b""  # received and not yet taken: from `_start` on (no copy per line)
        self._start = 0
        self.received = False
        self.status = 0
        self.headers = ResponseHeaders()
        self.remaining: int | None = None  # bytes of a Content-Length body still to come
        self._chunked = False
        self._chunk_left: int | None = None  # of the current chunk; None: read its size line next
        self._ended = False
        self._will_close = False

    @property
    def reusable(self) -> bool:
        return self._ended and not self._will_close and self._start == len(self._buffer)

    def read_head(self) -> None:
        """The status line and headers; the body's framing from them."""
        while True:
            version, self.status = self._status_line()
            if self.status != 100:
                break
            self._header_lines()  # 100 Continue's own headers, then the real response
        fields = self._header_lines()
        headers = self.headers
        for name, value in fields:
            headers.setdefault(name.lower(), value)
        connection = (headers.get("connection") or "").lower()
        if version == 11:
            self._will_close = "close" in connection
        else:
            self._will_close = not (headers.get("keep-alive") or "keep-alive" in connection)
        transfer = headers.get("transfer-encoding")
        if self.status in _NO_BODY or self.status < 200:
            self.remaining = 0
        elif transfer and transfer.lower() == "chunked":
            self._chunked = True
        else:
            length = headers.get("content-length")
            try:
                self.remaining = int(length) if length else None
            except ValueError:
                self.remaining = None
            if self.remaining is not None and self.remaining < 0:
                self.remaining = None
            if self.remaining is None:
                self._will_close = True  # the body ends with the connection
        if self.remaining == 0:
            self._ended = True

    def read1(self, amount: int) -> bytes:
        """Up to `amount` bytes of the body (at most one socket read); b"" at its end, or when the
        connection ended first (`remaining` then says how much was missing)."""
        if self._ended:
            return b""
        if self._chunked:
            return self._chunk(amount)
        if self.remaining is not None:
            data = self._take(min(amount, self.remaining))
            self.remaining -= len(data)
            if not self.remaining or not data:
                self._ended = not self.remaining
                if not data:
                    self._will_close = True
            return data
        data = self._take(amount)  # to the connection's end
        self._ended = not data
        return data

    # ---- the head --------------------------------------------------------------------------------

    def _line(self, what: str) -> bytes:
        """One line with its end, or what came before the connection ended; `what` names the line
        in the `LineTooLong` of one over 64 KiB (http.client's words: "status line", "header line",
        "chunk size", "trailer line")."""
        while True:
            start = self._start
            end = self._buffer.find(b"\n", start, start + MAX_LINE + 1)
            if end >= 0:
                self._start = end + 1
                return self._buffer[start : end + 1]
            if len(self._buffer) - start > MAX_LINE:
                raise http.client.LineTooLong(what)
            data = self._sock.recv(_RECV)
            if not data:
                line, self._buffer, self._start = self._buffer[start:], b"", 0
                return line
            self.received = True
            self._buffer, self._start = self._buffer[start:] + data, 0

    def _status_line(self) -> tuple[int, int]:
        raw = self._line("status line")
        if not raw:
            raise http.client.RemoteDisconnected("Remote end closed connection without response")
        line = raw.decode("iso-8859-1")
        parts = line.split(None, 2)
        version = parts[0] if len(parts) >= 2 else ""
        if not version.startswith("HTTP/"):
            raise http.client.BadStatusLine(line)
        status = parts[1]
        # ASCII digits only: "²" is a digit to `isdigit` but not to `int` (http.client catches that)
        if len(status) != 3 or not (status.isascii() and status.isdigit()) or not 100 <= int(status) <= 999:
            raise http.client.BadStatusLine(line)
        if version in ("HTTP/1.0", "HTTP/0.9"):
            return 10, int(status)
        if version.startswith("HTTP/1."):
            return 11, int(status)
        raise http.client.UnknownProtocol(version)

    def _header_lines(self) -> list[tuple[str, str]]:
        fields: list[tuple[str, str]] = []
        count = 0
        while True:
            raw = self._line("header line")
            if raw in (b"\r\n", b"\n", b""):
                return fields
            count += 1
            if count > MAX_HEADERS:
                raise http.client.HTTPException(f"got more than {MAX_HEADERS} headers")
            line = raw.decode("iso-8859-1").rstrip("\r\n")
            if line[:1] in (" ", "\t"):
                if fields:  # a folded line continues the previous header
                    name, value = fields[-1]
                    fields[-1] = (name, f"{value} {line.strip()}".strip())
                continue
            name, colon, value = line.partition(":")
            if colon:
                fields.append((name.strip(), value.strip()))

    # ---- the body --------------------------------------------------------------------------------

    def _take(self, amount: int) -> bytes:
        start = self._start
        if start < len(self._buffer):
            data = self._buffer[start : start + amount]
            self._start = start + len(data)
            return data
        return self._sock.recv(amount) if amount else b""

    def _chunk(self, amount: int) -> bytes:
        if self._chunk_left is None or self._chunk_left == 0:
            if self._chunk_left == 0 and (end := self._line("chunk size")) not in (b"\r\n", b"\n"):
                raise framing_error(end)  # the chunk's own end
            size_line = self._line("chunk size")
            try:
                self._chunk_left = int(size_line.split(b";", 1)[0], 16)
            except ValueError:
                raise framing_error(size_line) from None
            if self._chunk_left < 0:
                raise framing_error(size_line)
            if self._chunk_left == 0:
                while (line := self._line("trailer line")) not in (b"\r\n", b"\n"):  # trailers, then the end
                    if not line:  # the connection ended instead: the body is whole, the connection done
                        self._will_close = True
                        break
                self._ended = True
                return b""
        data = self._take(min(amount, self._chunk_left))
        if not data:
            raise http.client.IncompleteRead(b"")
        self._chunk_left -= len(data)
        return data


def framing_error(line: bytes) -> http.client.HTTPException:
    """A whole line that is not what the chunked framing needs is `BadChunk`; a line the
    connection's end cut short is the body cut off (`IncompleteRead`)."""
    if line.endswith(b"\n"):
        return BadChunk()
    return http.client.IncompleteRead(b"")
