"""Malformed HTTP responses against a whole sync: one line naming the fault, a bounded retry.

A server (or a broken proxy) that answers something that is not HTTP/1.1 as http.client reads it
(a status line that is not one, more than 100 header lines, a header line over 64 KiB, a chunked
body whose framing does not parse) fails the sync with `malformed HTTP response from <url> (...)`,
after exactly `errors.MALFORMED_ATTEMPTS` attempts, and leaves the previous `.c1z` as it was. The
same fault gives the same line on both transports (the direct `http.client` connections, and
urllib3 through a proxy: `HTTP_PROXY` set to `RelayProxy`, which passes the server's bytes on as
they come) and on both kinds of request (the `/groups` listing, and a member call, made by the
member-call process). docs/failure-behaviour.md ("Hostile server") lists these rows.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest

from orchestration.cli import main
from simulator import FaultRule, Faults, Org, XmattersSimulator
from tests.reliability.conftest import RELIABILITY_SPEC, Baseline, error_line
from tests.xmatters.helpers import read_request_head

# fault kind (and its status line) -> what the line says in parentheses
FAULTS: dict[str, tuple[dict[str, str], str]] = {
    "bad-status": ({"kind": "bad_status_line", "status_line": "HTTP/1.1 2x0 OK"}, "not an HTTP status line"),
    "ssh-banner": (
        {"kind": "bad_status_line", "status_line": "SSH-2.0-OpenSSH_9.6"},
        "not an HTTP status line",
    ),
    "many-headers": ({"kind": "many_headers"}, "more than 100 header lines"),
    "long-header-line": ({"kind": "long_header_line"}, "a header line over 64 KiB"),
    "bad-chunked": ({"kind": "bad_chunked"}, "bad chunked encoding"),
}


class RelayProxy:
    """An HTTP forward proxy on loopback that relays the origin's answer byte for byte, whatever
    it is (a proxy that parsed it, as tests/xmatters/test_transports.py's does, would refuse it)."""

    def __init__(self, origin_port: int) -> None:
        self._origin_port = origin_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.forwarded: list[str] = []  # the origin-form targets of the requests it relayed
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.close()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self._listener.accept()
                threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self._origin_port))
        self._sockets += [client, upstream]
        threading.Thread(target=self._relay_answers, args=(upstream, client), daemon=True).start()
        with contextlib.suppress(OSError), client.makefile("rb") as rfile:
            while (head := read_request_head(rfile)) is not None:  # GETs: a head, no body
                request_line, rest = head.split(b"\r\n", 1)
                method, target, version = request_line.split(b" ")
                parts = urlsplit(target.decode("ascii"))  # absolute form -> origin form
                path = (parts.path + (f"?{parts.query}" if parts.query else "")).encode("ascii")
                self.forwarded.append(path.decode("ascii"))
                upstream.sendall(b" ".join((method, path, version)) + b"\r\n" + rest)
        with contextlib.suppress(OSError):
            upstream.shutdown(socket.SHUT_RDWR)

    @staticmethod
    def _relay_answers(upstream: socket.socket, client: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := upstream.recv(65536):
                client.sendall(data)
        with contextlib.suppress(OSError):
            client.shutdown(socket.SHUT_RDWR)


Route = Callable[[XmattersSimulator], RelayProxy | None]


@pytest.fixture(params=["direct", "proxy"])
def transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Route]:
    """`transport(sim)`: the sync's requests go to `sim` directly (None), or through the returned
    `RelayProxy` (urllib3's route)."""
    proxies: list[RelayProxy] = []
    for name in ("NO_PROXY", "HTTPS_PROXY", "ALL_PROXY", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)

    def route(sim: XmattersSimulator) -> RelayProxy | None:
        if request.param == "direct":
            return None
        proxy = RelayProxy(sim.port)
        proxies.append(proxy)
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")  # the member process's too
        return proxy

    yield route
    for proxy in proxies:
        proxy.close()


@pytest.mark.parametrize("request_kind", ["listing", "member call"])
@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_malformed_response_fails_the_sync_with_one_line_after_two_attempts(
    baseline: Baseline,
    make_simulator: Callable[..., XmattersSimulator],
    reliability_org: Org,
    capsys: pytest.CaptureFixture[str],
    transport: Route,
    fault: str,
    request_kind: str,
) -> None:
    rule_fields, wording = FAULTS[fault]
    group_id = reliability_org.groups[2]["id"]
    path = "/groups?" if request_kind == "listing" else f"/groups/{group_id}/members"
    rule = FaultRule(path_contains=path, times=None, **rule_fields)  # type: ignore[arg-type]
    sim = make_simulator(spec=RELIABILITY_SPEC, faults=Faults(rules=[rule]))
    proxy = transport(sim)

    code = main(baseline.args(sim))  # --max-attempts 3: the malformed response gets 2 of them
    err = capsys.readouterr().err

    faulted = [p for _m, p, _status in sim.requests if path in p]
    assert len(set(faulted)) == 1, sim.requests
    url = f"{sim.origin}{faulted[0]}"
    expected = (
        f"baton-xmatters: error: xmatters: malformed HTTP response from {url} ({wording}) "
        "(gave up after 2 attempts)"
    )
    assert code == 1, err
    assert error_line(err) == expected
    baseline.assert_unchanged()
    assert [status for _m, p, status in sim.requests if path in p] == [0, 0], sim.requests
    if proxy is not None:  # urllib3 read what the relay passed on
        assert proxy.forwarded.count(faulted[0]) == 2
