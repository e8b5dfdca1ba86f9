"""The two HTTP transports: `http.client` connections without a proxy, urllib3 through one.

Every other client test runs over the direct transport (no proxy on loopback); these tests pin what
it does that urllib3 used to do for it (stale keep-alive connections, gzip/deflate bodies), and run
the proxy path for real through a forwarding proxy on 127.0.0.1.
"""

from __future__ import annotations

import gzip
import http.client
import http.server
import socket
import socketserver
import ssl
import threading
import zlib
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import urllib3

from pipelines.xmatters.client import XmattersClient
from pipelines.xmatters.errors import AuthError, UnavailableError, tls_failure_kind
from pipelines.xmatters.report import ExtractReport
from tests.xmatters.helpers import read_request_head
from tests.xmatters.test_client import member_ids, people_ids

PAGE = b'{"count":1,"total":1,"data":[{"id":"p1","targetName":"ann"}],"links":{}}'


class _ForwardingProxy(http.server.BaseHTTPRequestHandler):
    """A plain HTTP forward proxy: GET of an absolute URL, relayed to its host as it came."""

    protocol_version = "HTTP/1.1"
    forwarded: list[tuple[str, bool]]  # (absolute URL, carried an Authorization header)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        target = urlsplit(self.path)
        self.forwarded.append((self.path, "Authorization" in self.headers))
        upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
        headers = {k: v for k, v in self.headers.items() if not k.lower().startswith("proxy-")}
        upstream.request("GET", self.path[len(f"{target.scheme}://{target.netloc}") :], headers=headers)
        response = upstream.getresponse()
        self.send_response(response.status)
        for name in ("Content-Type", "Retry-After", "Content-Encoding"):
            if response.getheader(name):
                self.send_header(name, response.getheader(name))
        length = response.getheader("Content-Length")
        if length is None:  # read to the end, then relay with a length
            body = response.read()
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:  # relayed as it arrives (a trickle stays a trickle), the length as announced
            self.send_header("Content-Length", length)
            self.end_headers()
            try:
                while chunk := response.read1(65536):
                    self.wfile.write(chunk)
                    self.wfile.flush()
            except OSError:  # the client went away
                self.close_connection = True
        upstream.close()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, bool]]]:
    """A forwarding proxy on loopback set as HTTP_PROXY; yields the list of what it forwarded."""
    handler = type("Proxy", (_ForwardingProxy,), {"forwarded": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.server_address[1]}")
    try:
        yield handler.forwarded
    finally:
        server.shutdown()
        server.server_close()


def test_through_a_proxy_every_row_arrives_and_the_proxy_carried_every_request(
    xm_org, xm_sim, make_config, proxy
):
    report = ExtractReport()
    with XmattersClient(make_config(), report) as client:
        assert sorted(people_ids(client)) == sorted(p["id"] for p in xm_org.people)
        group = xm_org.groups[0]["id"]
        assert member_ids(client, group) == [i["member"]["id"] for i in xm_org.members[group]]
    assert len(proxy) == report.requests == xm_sim.request_count
    assert all(url.startswith(xm_sim.base_url) and authorized for url, authorized in proxy)


def test_through_a_proxy_a_401_is_the_same_one_line_error(xm_sim, make_config, proxy):
    with XmattersClient(make_config(password="wrong")) as client, pytest.raises(AuthError) as caught:
        people_ids(client)
    assert str(caught.value).startswith(f"xmatters: HTTP 401 from {xm_sim.base_url}/people?")
    assert "--username, --password or --password-file" in str(caught.value)
    assert len(proxy) == 1


def test_an_unreachable_proxy_is_named(make_config, monkeypatch):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    with XmattersClient(make_config(max_attempts=2)) as client, pytest.raises(UnavailableError) as caught:
        people_ids(client)
    assert "the proxy failed the request to" in str(caught.value)
    assert "HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY" in str(caught.value)


def test_an_unreachable_socks_proxy_is_named_not_the_server(make_config, monkeypatch):
    """`ALL_PROXY=socks5://...` on a closed port said `connection refused by <the xMatters URL>`,
    a server that was up: through a SOCKS proxy the only connection the client opens is the proxy's."""
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    for name in (
        "NO_PROXY",
        "no_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALL_PROXY", f"socks5://127.0.0.1:{port}")
    with XmattersClient(make_config(max_attempts=2)) as client, pytest.raises(UnavailableError) as caught:
        people_ids(client)
    assert "the proxy failed the request to" in str(caught.value)
    assert "HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY" in str(caught.value)
    assert "connection refused" not in str(caught.value)


# ---- the direct transport against a raw server -------------------------------------------------------


class _RawServer(socketserver.ThreadingTCPServer):
    """Answers every request with `response`; closes the connection after each if `close_after`.

    Keep-alive is what the response's headers say; closing without saying so is what a server does
    to an idle kept-alive connection.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, response: bytes, close_after: bool) -> None:
        self.response, self.close_after = response, close_after
        self.connections = 0
        self.closed = threading.Semaphore(0)  # released once per connection the server has closed
        super().__init__(("127.0.0.1", 0), _RawHandler)


class _RawHandler(socketserver.StreamRequestHandler):
    server: _RawServer

    def handle(self) -> None:
        self.server.connections += 1
        while read_request_head(self.rfile) is not None:
            self.wfile.write(self.server.response)
            self.wfile.flush()
            if self.server.close_after:
                return

    def finish(self) -> None:
        super().finish()
        self.request.close()
        self.server.closed.release()


def _response(body: bytes, *headers: str) -> bytes:
    head = ["HTTP/1.1 200 OK", "Content-Type: application/json", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


@pytest.fixture
def raw_server(request: pytest.FixtureRequest) -> Iterator[_RawServer]:
    response, close_after = request.param
    server = _RawServer(response, close_after)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _raw_client(server: _RawServer, make_config, **overrides) -> XmattersClient:
    base_url = f"http://127.0.0.1:{server.server_address[1]}/api/xm/1"
    return XmattersClient(make_config(base_url=base_url, **overrides), ExtractReport())


@pytest.mark.parametrize("raw_server", [(_response(PAGE), True)], indirect=True)
def test_a_kept_alive_connection_the_server_closed_is_replaced_without_a_retry(raw_server, make_config):
    with _raw_client(raw_server, make_config) as client:
        for _ in range(3):
            assert client.get_json(client.url("/people"))["data"][0]["id"] == "p1"
            assert raw_server.closed.acquire(timeout=5)  # closed while idle, before the next request
        assert (client.report.requests, client.report.retries) == (3, 0)
    assert raw_server.connections == 3


@pytest.mark.parametrize("raw_server", [(_response(PAGE), False)], indirect=True)
def test_one_connection_per_thread_is_kept_alive(raw_server, make_config):
    with _raw_client(raw_server, make_config) as client:
        for _ in range(3):
            client.get_json(client.url("/people"))
    assert raw_server.connections == 1


@pytest.mark.parametrize(
    "raw_server",
    [
        (_response(gzip.compress(PAGE), "Content-Encoding: gzip"), False),
        (_response(zlib.compress(PAGE), "Content-Encoding: deflate"), False),
        (_response(zlib.compress(PAGE)[2:-4], "Content-Encoding: deflate"), False),  # raw deflate
    ],
    ids=["gzip", "deflate", "raw-deflate"],
    indirect=True,
)
def test_compressed_bodies_are_decoded(raw_server, make_config):
    with _raw_client(raw_server, make_config) as client:
        assert client.get_json(client.url("/people"))["data"] == [{"id": "p1", "targetName": "ann"}]


@pytest.mark.parametrize(
    "raw_server", [(_response(b"not gzip at all", "Content-Encoding: gzip"), False)], indirect=True
)
def test_a_body_its_encoding_cannot_decode_is_a_dropped_connection(raw_server, make_config):
    with _raw_client(raw_server, make_config, max_attempts=2) as client, pytest.raises(UnavailableError) as e:
        client.get_json(client.url("/people"))
    assert "connection dropped while reading http://127.0.0.1:" in str(e.value)
    assert "(gave up after 2 attempts)" in str(e.value)


# ---- https:// to a server that speaks plain http ------------------------------------------------------


def test_https_to_a_plain_http_server_names_the_scheme_not_the_ca_bundle(xm_sim, make_config):
    """The handshake fails with WRONG_VERSION_NUMBER: a `--ca-bundle` hint would send the user the
    wrong way; the line points at the scheme of --base-url, and it is not retried."""
    base_url = xm_sim.base_url.replace("http://", "https://")
    config = make_config(base_url=base_url, max_attempts=3)
    with XmattersClient(config) as client, pytest.raises(UnavailableError) as caught:
        people_ids(client)
    message = str(caught.value)
    assert message.startswith(f"xmatters: TLS handshake with {base_url}/people?")
    assert "check the scheme of --base-url" in message
    assert "--ca-bundle" not in message and "gave up" not in message


def test_urllib3s_wrapped_tls_errors_are_told_apart(xm_sim):
    """The proxy path's urllib3 wraps the ssl error; verification and handshake stay distinct."""
    https_url = xm_sim.base_url.replace("http://", "https://") + "/people"
    with pytest.raises(urllib3.exceptions.SSLError) as handshake:
        urllib3.PoolManager().urlopen("GET", https_url, retries=False)
    assert tls_failure_kind(handshake.value) == "tls_handshake"
    verification = ssl.SSLCertVerificationError(1, "certificate verify failed: self-signed certificate")
    assert tls_failure_kind(urllib3.exceptions.SSLError(verification)) == "tls"
    assert tls_failure_kind(verification) == "tls"


def test_one_attempt_is_worded_in_the_singular(make_config):
    """`--max-attempts 1` said "(gave up after 1 attempts)"."""
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    config = make_config(base_url=f"http://127.0.0.1:{port}/api/xm/1", max_attempts=1)
    with XmattersClient(config) as client, pytest.raises(UnavailableError) as caught:
        people_ids(client)
    assert str(caught.value).endswith("(gave up after 1 attempt)")
