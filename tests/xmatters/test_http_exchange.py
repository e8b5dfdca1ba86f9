"""The direct transport's own request and response reading (`http_exchange`, `direct_http`) against a
scripted raw server: framing (length, chunked, the connection's end), heads http.client refuses, and a
kept-alive connection the server closes just as the next request arrives."""

from __future__ import annotations

import gzip
import socketserver
import threading
from collections.abc import Callable, Iterator

import pytest

from pipelines.xmatters.client import XmattersClient
from pipelines.xmatters.errors import UnavailableError
from pipelines.xmatters.report import ExtractReport
from tests.xmatters.helpers import read_request_head

PAGE = b'{"count":1,"total":1,"data":[{"id":"p1","targetName":"ann"}],"links":{}}'
ITEMS = [{"id": "p1", "targetName": "ann"}]

# What the server does with the n-th request (from 0) of its c-th connection (from 0): the bytes to
# write (then go on reading requests), (bytes, CLOSE) to write them and close, or None to close the
# connection without an answer.
CLOSE = "close"
Script = Callable[[int, int], bytes | tuple[bytes, str] | None]


class _ScriptedServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.requests = 0
        self._lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _ScriptedHandler)

    def next_connection(self) -> int:
        with self._lock:
            self.connections += 1
            return self.connections - 1


class _ScriptedHandler(socketserver.StreamRequestHandler):
    server: _ScriptedServer

    def handle(self) -> None:
        connection = self.server.next_connection()
        for index in range(1000):
            if read_request_head(self.rfile) is None:
                return
            self.server.requests += 1
            answer = self.server.script(connection, index)
            if answer is None:
                return
            data = answer[0] if isinstance(answer, tuple) else answer
            self.wfile.write(data)  # one write: the whole answer arrives together on loopback
            self.wfile.flush()
            if isinstance(answer, tuple):
                return

    def finish(self) -> None:
        super().finish()
        self.request.close()


@pytest.fixture
def scripted() -> Iterator[Callable[[Script], _ScriptedServer]]:
    servers: list[_ScriptedServer] = []

    def start(script: Script) -> _ScriptedServer:
        server = _ScriptedServer(script)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _client(server: _ScriptedServer, make_config, **overrides) -> XmattersClient:
    base_url = f"http://127.0.0.1:{server.server_address[1]}/api/xm/1"
    return XmattersClient(make_config(base_url=base_url, **overrides), ExtractReport())


def _ok(body: bytes = PAGE, *headers: str, length: bool = True) -> bytes:
    head = ["HTTP/1.1 200 OK", "Content-Type: application/json", *headers]
    if length:
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def _chunked(body: bytes, size: int = 7) -> bytes:
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x;ext=1\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\nX-Trailer: t\r\n\r\n"


def _misframed(body: bytes, extra: bytes) -> bytes:
    """`body` in two chunks, the first followed by `extra` and no CRLF: its size line is 5 short."""
    head, rest = body[:5], body[5:]
    return b"5\r\n" + head + extra + b"%x\r\n%s\r\n0\r\n\r\n" % (len(rest), rest)


def test_a_kept_alive_connection_closed_as_the_next_request_arrives_is_sent_again_not_retried(
    scripted, make_config
):
    # each connection answers its first request and closes on the second without a byte: what a
    # server closing an idle connection does when the client's request crosses its close
    server = scripted(lambda _connection, index: _ok() if index == 0 else None)
    with _client(server, make_config) as client:
        for _ in range(3):
            assert client.get_json(client.url("/people"))["data"] == ITEMS
        assert (client.report.requests, client.report.retries) == (3, 0)
    assert server.connections == 3  # the request found closed went again, once, on a new connection


def test_a_new_connection_closed_without_an_answer_is_a_counted_retry_and_not_sent_twice(
    scripted, make_config
):
    server = scripted(lambda _connection, _index: None)
    with _client(server, make_config, max_attempts=2) as client, pytest.raises(UnavailableError) as e:
        client.get_json(client.url("/people"))
    assert "connection reset while requesting http://127.0.0.1:" in str(e.value)
    assert "(gave up after 2 attempts)" in str(e.value)
    assert server.requests == 2  # one per attempt: only a reused connection's request goes again


@pytest.mark.parametrize(
    "answer",
    [
        _ok(_chunked(PAGE), "Transfer-Encoding: chunked", length=False),
        _ok(
            _chunked(gzip.compress(PAGE), 5),
            "Transfer-Encoding: Chunked",
            "Content-Encoding: gzip",
            length=False,
        ),
        b"HTTP/1.1 200 OK\nCONTENT-LENGTH: %d\ncontent-type:   application/json\n\n%s" % (len(PAGE), PAGE),
        _ok(PAGE, "X-Folded: one", " two"),
        b"HTTP/1.1 100 Continue\r\n\r\n" + _ok(),
    ],
    ids=["chunked", "chunked-gzip", "bare-newlines-any-case", "folded-header", "100-continue"],
)
@pytest.mark.parametrize("via", ["direct", "proxy"])
def test_framings_and_heads_http_client_reads_are_read_and_the_connection_kept(
    scripted, make_config, monkeypatch, answer, via
):
    """Through a proxy (urllib3's route) the scripted server is the proxy; its chunks' ends are
    checked by `client._check_chunk_ends`, which must read every good framing as urllib3 did."""
    server = scripted(lambda _connection, _index: answer)
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    if via == "proxy":
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.server_address[1]}")
    with _client(server, make_config) as client:
        for _ in range(2):
            assert client.get_json(client.url("/people"))["data"] == ITEMS
    assert server.connections == 1


@pytest.mark.parametrize(
    "answer",
    [
        (_ok(PAGE, length=False), CLOSE),  # the body ends with the connection
        _ok(PAGE, "Connection: close"),
        b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(PAGE), PAGE),
        _ok() + b"stray",  # more than the Content-Length said
    ],
    ids=["to-the-end", "connection-close", "http-1.0", "bytes-after-the-body"],
)
def test_a_response_that_ends_its_connection_is_read_whole_and_the_next_request_gets_a_new_one(
    scripted, make_config, answer
):
    server = scripted(lambda _connection, index: answer if index == 0 else None)
    with _client(server, make_config) as client:
        for _ in range(2):
            assert client.get_json(client.url("/people"))["data"] == ITEMS
        assert client.report.retries == 0
    assert server.connections == 2


MALFORMED = "malformed HTTP response from"
NOT_A_STATUS_LINE = "(not an HTTP status line)"
DROPPED = "connection dropped while reading"


@pytest.mark.parametrize("via", ["direct", "proxy"])
@pytest.mark.parametrize(
    ("answer", "wording", "attempts"),
    [
        (b"HTTX/1.1 200 OK\r\n\r\n", NOT_A_STATUS_LINE, 2),
        (b"SSH-2.0-OpenSSH_9.6\r\n", NOT_A_STATUS_LINE, 2),
        (b"HTTP/1.1 2000 OK\r\n\r\n", NOT_A_STATUS_LINE, 2),
        (b"HTTP/1.1 2\xb20 OK\r\n\r\n", NOT_A_STATUS_LINE, 2),  # "2²0": isdigit, not int
        (b"HTTP/2.0 200 OK\r\n\r\n", NOT_A_STATUS_LINE, 2),
        (b"HTTP/1.1 200 " + b"x" * 70_000 + b"\r\n\r\n", NOT_A_STATUS_LINE, 2),
        (b"HTTP/1.1 200 OK\r\nX-Long: " + b"x" * 70_000 + b"\r\n\r\n", "(a header line over 64 KiB)", 2),
        (_ok(PAGE, *(f"X-Pad-{i}: x" for i in range(101))), "(more than 100 header lines)", 2),
        (_ok(b"zz\r\n" + PAGE, "Transfer-Encoding: chunked", length=False), "(bad chunked encoding)", 2),
        (
            _ok(b"2\r\n[]\r\n" + b"1" * 70_000 + b"\r\n", "Transfer-Encoding: chunked", length=False),
            "(bad chunked encoding)",
            2,
        ),
        # a chunk longer than its size line said: no CRLF where it ends. urllib3 tossed the two bytes
        # there unread, and the rest parsed as the next chunk: the body lost "XY" and read as valid
        (
            _ok(_misframed(PAGE, b"XY"), "Transfer-Encoding: chunked", length=False),
            "(bad chunked encoding)",
            2,
        ),
        (_ok(_misframed(PAGE, b""), "Transfer-Encoding: chunked", length=False), "(bad chunked encoding)", 2),
        # cut off, not malformed: retried with every attempt
        ((_ok(PAGE, f"Content-Length: {len(PAGE) + 10}", length=False), CLOSE), DROPPED, 3),
        ((_ok(b"2\r\n[]\r\n", "Transfer-Encoding: chunked", length=False), CLOSE), DROPPED, 3),
        ((_ok(b"8\r\n[]", "Transfer-Encoding: chunked", length=False), CLOSE), DROPPED, 3),
        ((_ok(b"2\r\n[]\r\n1", "Transfer-Encoding: chunked", length=False), CLOSE), DROPPED, 3),
        ((_ok(b"2\r\n[]", "Transfer-Encoding: chunked", length=False), CLOSE), DROPPED, 3),
        ((_ok(b"2\r\n[]\r", "Transfer-Encoding: chunked", length=False), CLOSE), DROPPED, 3),
    ],
    ids=[
        "not-http",
        "ssh-banner",
        "four-digit-status",
        "superscript-digit-status",
        "http-2",
        "long-status-line",
        "long-header",
        "101-headers",
        "bad-chunk-size",
        "long-chunk-size-line",
        "chunk-longer-than-its-size",
        "chunk-without-its-end",
        "short-body",
        "chunked-cut-between-chunks",
        "chunked-cut-in-a-chunk",
        "chunked-cut-in-a-size-line",
        "chunked-cut-before-a-chunks-end",
        "chunked-cut-in-a-chunks-end",
    ],
)
def test_a_malformed_or_cut_off_response_is_the_same_one_line_error_on_both_transports(
    scripted, make_config, monkeypatch, answer, wording, attempts, via
):
    """Through a proxy (urllib3's route) the scripted server is the proxy: a broken proxy's answer."""
    server = scripted(lambda _connection, _index: answer)
    port = server.server_address[1]
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    if via == "proxy":
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    with _client(server, make_config, max_attempts=3) as client, pytest.raises(UnavailableError) as e:
        client.get_json(client.url("/people"))
    message = str(e.value)
    url = f"http://127.0.0.1:{port}/api/xm/1/people?limit=100"
    if wording == DROPPED:
        assert message == f"xmatters: {DROPPED} {url} (gave up after 3 attempts)"
    else:
        assert message == f"xmatters: {MALFORMED} {url} {wording} (gave up after 2 attempts)"
    assert server.requests == attempts
