"""The simulator's HTTP server: a read-only xMatters REST API (`/api/xm/1`) on 127.0.0.1.

Built on the standard library only (`http.server.ThreadingHTTPServer`, HTTP/1.1 keep-alive,
TCP_NODELAY, small responses written in one send) so that it is never the bottleneck of a benchmark:
fault-free people/groups/devices pages are rendered once and cached by request path (up to a byte
budget), and member pages are joined from cached per-member JSON fragments; per request there is
little more than header parsing, a route lookup and one send.

Endpoints: `GET /people`, `GET /groups`, `GET /groups/{id or URL-encoded targetName}/members`,
`GET /devices[?deviceType=EMAIL]`, all paged with `offset` (default 0) and `limit` (default 100,
clamped to 1000) and the documented envelope `{"count", "total", "data", "links"}` whose links are
relative and keep the request's query parameters (only `offset` is replaced).
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hmac
import json
import logging
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import quote, unquote, unquote_plus

from simulator.faults import PAGE_KINDS, FaultRule, Faults
from simulator.org import API_PREFIX, Org, to_json_bytes

logger = logging.getLogger(__name__)

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
DEFAULT_PAGE_CACHE_BYTES = 256 * 1024 * 1024
JSON_CONTENT_TYPE = "application/json;charset=UTF-8"

_HTML_ERROR_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>503 Service Temporarily Unavailable</title></head>\n"
    b"<body><h1>Service Temporarily Unavailable</h1>\n<p>xMatters is undergoing scheduled "
    b"maintenance. Please try again later.</p></body></html>\n"
)
_DEFAULT_MESSAGES = {
    400: "The request was invalid",
    401: "Authentication failed: the user name or password is incorrect",
    403: "You do not have permission to access this resource",
    404: "Could not find the requested resource",
    405: "Method not allowed: the xMatters simulator is read-only and only supports GET",
    429: "Too many requests: the rate limit for this company was exceeded",
}


def default_api_key_id(org: Org) -> str:
    """A deterministic API key id for an org: `x-api-key-<uuid>` derived from its seed."""
    return f"x-api-key-{uuid.uuid5(uuid.NAMESPACE_URL, f'xmatters-simulator/api-key/{org.spec.seed}')}"


def error_body(status: int, message: str | None = None) -> bytes:
    """The xMatters error body: `{"code": 404, "reason": "Not Found", "message": "..."}`."""
    reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    text = message or _DEFAULT_MESSAGES.get(status) or reason
    return to_json_bytes({"code": status, "reason": reason, "message": text})


class _Collection(Protocol):
    def __len__(self) -> int: ...

    def array_json(self, start: int, stop: int) -> bytes: ...


class _PageCache:
    """Rendered fault-free pages by raw path-with-query, up to a byte budget (then it stops growing)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._pages: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def get_or_build(self, key: str, build: Callable[[], bytes]) -> bytes:
        page = self._pages.get(key)
        if page is None:
            page = build()
            with self._lock:
                if self.size + len(page) <= self.max_bytes and key not in self._pages:
                    self._pages[key] = page
                    self.size += len(page)
        return page


class _RowsCollection:
    def __init__(self, rows: Callable[[], Sequence[dict]]) -> None:
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows())

    def array_json(self, start: int, stop: int) -> bytes:
        return to_json_bytes(list(self._rows()[start:stop]))


class _MembersCollection:
    def __init__(self, org: Org, group_index: int) -> None:
        self._org = org
        self._group_index = group_index

    def __len__(self) -> int:
        return self._org.member_total(self._group_index)

    def array_json(self, start: int, stop: int) -> bytes:
        return self._org.members_json(self._group_index, start, stop)


@dataclass
class _Page:
    """A list request resolved: which collection, which window, and how to write its links."""

    path: str
    query_pairs: list[str]
    collection: _Collection
    offset: int
    limit: int
    is_members: bool

    def link(self, offset: int) -> str:
        pairs = []
        replaced = False
        for pair in self.query_pairs:
            if unquote_plus(pair.partition("=")[0]) == "offset":
                if not replaced:
                    pairs.append(f"offset={offset}")
                    replaced = True
            else:
                pairs.append(pair)
        if not replaced:
            pairs.append(f"offset={offset}")
        return f"{self.path}?{'&'.join(pairs)}"


@dataclass
class _Response:
    status: int
    body: bytes
    content_type: str = JSON_CONTENT_TYPE
    headers: tuple[tuple[str, str], ...] = ()


class _BadRequest(Exception):
    pass


def render_page(page: _Page, rule: FaultRule | None = None) -> bytes:
    """The envelope of one page, with the page fault `rule` applied when given."""
    total = len(page.collection)
    start = min(page.offset, total)
    stop = min(page.offset + page.limit, total)
    data = page.collection.array_json(start, stop)
    count = stop - start
    links = {"self": page.link(page.offset)}
    if page.offset > 0:
        links["previous"] = page.link(max(0, page.offset - page.limit))
    if page.offset + page.limit < total:
        links["next"] = page.link(page.offset + page.limit)
    total_out: int | None = total
    kind = rule.kind if rule is not None else None
    if kind == "data_not_list":
        data = to_json_bytes({"items": json.loads(data)})
    elif kind == "item_without_id":
        items = json.loads(data)
        if items:
            (items[0]["member"] if page.is_members else items[0]).pop("id", None)
        data = to_json_bytes(items)
    elif kind in ("id_number", "wrong_type"):
        items = json.loads(data)
        if items:
            field, value = ("id", 42) if kind == "id_number" else ("status", {"code": "ACTIVE"})
            (items[0]["member"] if page.is_members else items[0])[field] = value
        data = to_json_bytes(items)
    elif kind == "padded_names" and rule is not None:
        items = json.loads(data)
        for index, item in enumerate(items):
            row = item["member"] if page.is_members else item
            row["targetName"] = f"{index:08d}".ljust(rule.size_bytes, "x")
        data = to_json_bytes(items)
    elif kind == "total_first_page_only" and page.offset > 0:
        total_out = None
    elif kind == "repeat_row" and 0 < start < total:
        data = page.collection.array_json(start - 1, stop)
        count += 1
    elif kind == "next_loop":
        links["next"] = links["self"]
    elif kind == "next_unencoded" and "next" in links:
        links["next"] += "&note=Zoë ops\x01"
    elif kind == "next_foreign":
        relative_next = links.get("next", page.link(page.offset + page.limit))
        links["next"] = rule.foreign_origin.rstrip("/") + relative_next
    elif kind == "total_mismatch":
        total_out = total + rule.total_delta
    elif kind == "empty_page_with_next":
        data, count = b"[]", 0
        links["next"] = page.link(page.offset + page.limit)
    elif kind == "endless_next":
        if start >= total and total:  # past the end: the last page's rows again
            last = max(0, total - page.limit)
            data, count = page.collection.array_json(last, total), total - last
            if rule is not None and rule.fresh_rows:  # ... under ids no page had before
                items = json.loads(data)
                for item in items:
                    row = item["member"] if page.is_members else item
                    row["id"] = f"{row['id']}~{page.offset}"
                data = to_json_bytes(items)
        links["next"] = page.link(page.offset + page.limit)
        if rule is not None and rule.omit_total:
            total_out = None
    total_part = b"" if total_out is None else b'"total":%d,' % total_out
    if kind == "huge_number" and rule is not None:
        total_part = b'"total":' + b"9" * rule.digits + b","
    return b"".join(
        (b'{"count":%d,' % count, total_part, b'"data":', data, b',"links":', to_json_bytes(links), b"}")
    )


class XmattersSimulator:
    """A running (after `start()`) read-only xMatters API serving `org`.

    Accepts HTTP Basic auth with `username`/`password` or with the API key
    `api_key_id`/`api_key_secret`. `faults` may be mutated or replaced while it runs.
    `request_count` counts every request received; `requests` lists (method, path_with_query,
    status) of each answered request, status 0 when the connection was dropped or reset, or the
    answer was a malformed HTTP response.
    """

    def __init__(
        self,
        org: Org,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = "sim-user",
        password: str = "sim-password",
        api_key_id: str | None = None,
        api_key_secret: str = "sim-api-secret",
        faults: Faults | None = None,
        page_cache_bytes: int = DEFAULT_PAGE_CACHE_BYTES,
    ) -> None:
        self.org = org
        self.host = host
        self._requested_port = port
        self.username = username
        self.password = password
        self.api_key_id = api_key_id or default_api_key_id(org)
        self.api_key_secret = api_key_secret
        self.faults = faults if faults is not None else Faults()
        self._credentials = {username: password, self.api_key_id: api_key_secret}
        self._valid_auth_headers = {
            "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode("ascii")
            for user, secret in self._credentials.items()
        }
        self._cache = _PageCache(page_cache_bytes)
        self._people = _RowsCollection(lambda: self.org.people)
        self._groups = _RowsCollection(lambda: self.org.groups)
        self._devices: dict[str | None, _RowsCollection] = {}
        self._lock = threading.Lock()
        self._request_count = 0
        self._requests: list[tuple[str, str, int]] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle -------------------------------------------------------------------------------
    def start(self) -> XmattersSimulator:
        if self._server is not None:
            return self
        server_class = _Server6 if ":" in self.host else _Server  # `::1`: an IPv6 literal
        server = server_class((self.host, self._requested_port), _Handler)
        server.simulator = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"xmatters-simulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        logger.info("xMatters simulator serving %s", self.base_url)
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection (idempotent)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_all_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def serve(self, org: Org) -> None:
        """From now on answer with `org` (e.g. `org.with_changes(...)`), at the same URL and credentials.

        Tests of what changed between two syncs need the second sync to read the same source: a
        new simulator would listen on another port, which the warehouse refuses as another tenant.
        """
        with self._lock:
            self.org = org
            self._cache = _PageCache(self._cache.max_bytes)
            self._devices = {}

    def __enter__(self) -> XmattersSimulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the simulator is not running: call start() first")
        return self._server.server_address[1]

    @property
    def origin(self) -> str:
        """`http://127.0.0.1:<port>` (`http://[::1]:<port>`): what relative links are resolved against."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.origin}{API_PREFIX}"

    # ---- counters --------------------------------------------------------------------------------
    @property
    def request_count(self) -> int:
        with self._lock:
            return self._request_count

    @property
    def requests(self) -> list[tuple[str, str, int]]:
        with self._lock:
            return list(self._requests)

    def reset_counters(self) -> None:
        with self._lock:
            self._request_count = 0
            self._requests = []

    def _count_request(self) -> None:
        with self._lock:
            self._request_count += 1

    def _record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self._requests.append((method, path, status))

    # ---- request handling ------------------------------------------------------------------------
    def is_authorized(self, header: str | None) -> bool:
        if not header:
            return False
        if header in self._valid_auth_headers:
            return True
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, secret = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        expected = self._credentials.get(user)
        return expected is not None and hmac.compare_digest(expected.encode(), secret.encode())

    def resolve(self, raw_path: str, faults: Faults) -> _Page | _Response:
        """Route a GET: a page to render, or an error response."""
        path, _, query = raw_path.partition("?")
        query_pairs = [pair for pair in query.split("&") if pair]
        params: dict[str, str] = {}
        for pair in query_pairs:
            key, _, value = pair.partition("=")
            params.setdefault(unquote_plus(key), unquote_plus(value))
        if not path.startswith(API_PREFIX + "/"):
            return _Response(404, error_body(404, f"Could not find the resource {path}"))
        segments = path[len(API_PREFIX) + 1 :].split("/")
        collection: _Collection
        is_members = False
        if segments == ["people"]:
            collection = self._people
        elif segments == ["groups"]:
            collection = self._groups
        elif len(segments) == 3 and segments[0] == "groups" and segments[2] == "members" and segments[1]:
            key = unquote(segments[1])
            index = self.org.group_index(key)
            if index is None:
                return _Response(404, error_body(404, f"Could not find a group with id {key}"))
            group = self.org.groups[index]
            if faults.is_deleted(group["id"], group["targetName"]):
                return _Response(404, error_body(404, f"Could not find a group with id {key}"))
            collection = _MembersCollection(self.org, index)
            is_members = True
        elif segments == ["devices"]:
            collection = self._device_collection(params.get("deviceType") or None)
        else:
            return _Response(404, error_body(404, f"Could not find the resource {path}"))
        try:
            offset = _int_param(params, "offset", 0)
            limit = min(_int_param(params, "limit", DEFAULT_LIMIT), MAX_LIMIT)
            if offset < 0 or limit < 1:
                raise _BadRequest("offset must be >= 0 and limit >= 1")
        except _BadRequest as exc:
            return _Response(400, error_body(400, str(exc)))
        return _Page(path, query_pairs, collection, offset, limit, is_members)

    def page_bytes(self, raw_path: str, page: _Page) -> bytes:
        """The fault-free page for this request, from the cache when it was rendered before.

        Member pages are not cached: joining cached member fragments is about as cheap as a lookup,
        and a million memberships would otherwise double the memory.
        """
        if page.is_members:
            return render_page(page)
        return self._cache.get_or_build(raw_path, lambda: render_page(page))

    def _device_collection(self, device_type: str | None) -> _RowsCollection:
        collection = self._devices.get(device_type)
        if collection is None:
            collection = _RowsCollection(lambda: self.org.devices_of_type(device_type))
            self._devices[device_type] = collection
        return collection


def _int_param(params: dict[str, str], name: str, default: int) -> int:
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise _BadRequest(f"Invalid value for {name}: {value!r}") from None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    simulator: XmattersSimulator

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def close_all_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug(
            "xMatters simulator: error while handling a request from %s", client_address, exc_info=True
        )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "xmatters-simulator"
    disable_nagle_algorithm = True
    timeout = 300
    server: _Server
    _answer_at = 0.0  # time.monotonic() before which this request's answer is not written

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        logger.debug("xMatters simulator: " + format, *args)

    def __getattr__(self, name: str) -> Callable[[], None]:
        # http.server dispatches to do_<METHOD>; every method but GET gets a 405.
        if name.startswith("do_"):
            return self._refuse_method
        raise AttributeError(name)

    def _refuse_method(self) -> None:
        sim = self.server.simulator
        sim._count_request()
        self._send(405, error_body(405), headers=(("Allow", "GET"),), close=True)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        sim = self.server.simulator
        sim._count_request()
        faults = sim.faults
        # the answer is prepared during the latency, not after it: a request is answered `latency_s`
        # after it arrived, the simulator's own work included, as a server of that latency answers
        self._answer_at = time.monotonic() + faults.latency_s
        self._answer(sim, faults)

    def _answer(self, sim: XmattersSimulator, faults: Faults) -> None:
        """Write the response; every branch records the request first (tests read the log right after)."""
        if not sim.is_authorized(self.headers.get("Authorization")):
            self._send(401, error_body(401), headers=(("WWW-Authenticate", 'Basic realm="xMatters"'),))
            return
        if faults.over_rate_limit():
            self._send(429, error_body(429), headers=(("Retry-After", "1"),))
            return
        resolved = sim.resolve(self.path, faults)
        rule = faults.take(self.path, resolved.offset if isinstance(resolved, _Page) else None)
        kind = rule.kind if rule is not None else None
        if rule is not None and kind == "status":
            headers = () if rule.retry_after is None else (("Retry-After", _retry_after(rule.retry_after)),)
            self._send(rule.status, error_body(rule.status, rule.message), headers=(*headers, *rule.headers))
            return
        if rule is not None and kind in _HOSTILE_KINDS:
            self._hostile(rule)
            return
        if kind == "drop":
            sim._record(self.command, self.path, 0)
            self._close(reset=False)
            return
        if kind == "html_200":
            self._send(200, _HTML_ERROR_PAGE, content_type="text/html; charset=utf-8")
            return
        if rule is not None and kind == "slow":
            time.sleep(rule.delay_s)
        if isinstance(resolved, _Response):
            status, body = resolved.status, resolved.body
        elif kind in PAGE_KINDS:
            status, body = 200, render_page(resolved, rule)
        else:
            status, body = 200, sim.page_bytes(self.path, resolved)
        if kind == "malformed_json":
            self._send(status, body.replace(b'"', b"'", 3) + b",,")
        elif kind == "truncated_json":
            self._send(status, body[: len(body) // 2])
        elif kind == "invalid_utf8":
            self._send(status, body.replace(b'"targetName":"', b'"targetName":"\xff', 1))
        elif kind == "reset":
            sim._record(self.command, self.path, 0)
            self._write(self._head(status, JSON_CONTENT_TYPE, len(body), ()) + body[: len(body) // 2])
            self._close(reset=True)
        else:
            self._send(status, body, headers=resolved.headers if isinstance(resolved, _Response) else ())

    def _hostile(self, rule: FaultRule) -> None:
        """The responses of a hostile server (see `faults.py`); all but "trickle" are not pages."""
        kind = rule.kind
        if kind == "gzip_bomb":
            self._send(200, gzip_bomb(rule.size_bytes), headers=(("Content-Encoding", "gzip"),))
        elif kind == "deep_json":
            self._send(200, b"[" * rule.depth + b"]" * rule.depth)
        elif kind == "echo_auth":
            auth = self.headers.get("Authorization", "")
            decoded = base64.b64decode(auth.partition(" ")[2] or "").decode("utf-8", "replace")
            message = (
                f"Internal error for request with Authorization: {auth} (user:password {decoded}); "
                f"token={quote(auth.partition(' ')[2], safe='')}"
            )
            self._send(rule.status, error_body(rule.status, message))
        elif kind == "huge_body":
            self._stream_padded(rule.size_bytes, declare_length=rule.declare_length)
        elif kind in _MALFORMED_KINDS:
            self._malformed(rule)
        else:  # "trickle": the real answer, one byte at a time
            sim = self.server.simulator
            resolved = sim.resolve(self.path, sim.faults)
            body = resolved.body if isinstance(resolved, _Response) else render_page(resolved)
            sim._record(self.command, self.path, 200)
            self._write(self._head(200, JSON_CONTENT_TYPE, len(body), ()))
            for index in range(len(body)):
                time.sleep(rule.delay_s)
                if self.close_connection:
                    return
                self._write(body[index : index + 1])

    def _malformed(self, rule: FaultRule) -> None:
        """A response that breaks HTTP/1.1 itself (see `faults.py`), then the connection's close."""
        self.server.simulator._record(self.command, self.path, 0)
        kind = rule.kind
        if kind == "bad_status_line":
            self._write(rule.status_line.encode("latin-1") + b"\r\n\r\n")
        elif kind == "many_headers":
            self._write(b"HTTP/1.1 200 OK\r\n")
            lines = b"".join(b"X-Pad-%03d: %s\r\n" % (i, b"a" * 86) for i in range(100))
            for _ in range(1000):  # ~10 MB at most; the client stops reading after 100 lines
                self._write(lines)
                if self.close_connection:  # the write failed: the client went away
                    return
        elif kind == "long_header_line":
            self._write(b"HTTP/1.1 200 OK\r\nX-Long: ")
            for _ in range(16):
                self._write(b"a" * 65536)
            self._write(b"\r\n\r\n")
        else:  # "bad_chunked"
            head = (
                f"HTTP/1.1 200 OK\r\nContent-Type: {JSON_CONTENT_TYPE}\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            self._write(head.encode("latin-1") + b'9\r\n{"count":\r\nzz\r\n')
        self._close(reset=False)

    def _stream_padded(self, size: int, *, declare_length: bool) -> None:
        """An empty page padded with spaces to `size` bytes, written in 1 MiB pieces."""
        self.server.simulator._record(self.command, self.path, 200)
        page = _EMPTY_PAGE
        if declare_length:
            self._write(self._head(200, JSON_CONTENT_TYPE, max(size, len(page)), ()))
        else:
            self.close_connection = True
            lines = ["HTTP/1.1 200 OK", f"Content-Type: {JSON_CONTENT_TYPE}", "Connection: close"]
            self._write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        self._write(page)
        left = size - len(page)
        piece = b" " * 2**20
        while left > 0:
            chunk = piece if left >= len(piece) else piece[:left]
            try:
                self.wfile.write(chunk)
            except OSError:  # the client gave up (it refused the body)
                self.close_connection = True
                return
            left -= len(chunk)
        if not declare_length:
            self._close(reset=False)

    # ---- low-level writing -------------------------------------------------------------------------
    def _head(self, status: int, content_type: str, length: int, headers: Sequence[tuple[str, str]]) -> bytes:
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Unknown"
        lines = [
            f"HTTP/1.1 {status} {phrase}",
            f"Server: {self.server_version}",
            f"Content-Type: {content_type}",
            f"Content-Length: {length}",
        ]
        lines.extend(f"{name}: {value}" for name, value in headers)
        if self.close_connection:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send(
        self,
        status: int,
        body: bytes,
        *,
        content_type: str = JSON_CONTENT_TYPE,
        headers: Sequence[tuple[str, str]] = (),
        close: bool = False,
    ) -> int:
        if close:
            self.close_connection = True
        self.server.simulator._record(self.command, self.path, status)
        head = self._head(status, content_type, len(body), headers)
        if len(body) < 65536:
            self._write(head + body)
        else:  # two sends (TCP_NODELAY is on) rather than copying a large body
            self._write(head)
            self._write(body)
        return status

    def _await_latency(self) -> None:
        """Hold the first byte (or the close) of an answer until the request's latency has passed."""
        answer_at, self._answer_at = self._answer_at, 0.0
        delay = answer_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def _write(self, data: bytes) -> None:
        self._await_latency()
        try:
            self.wfile.write(data)
        except OSError:  # the client went away (e.g. it timed out on a slow response)
            self.close_connection = True

    def _close(self, *, reset: bool) -> None:
        """Close the connection now: with FIN, or with RST when `reset` (SO_LINGER 0)."""
        self._await_latency()
        self.close_connection = True
        try:
            if reset:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                self.connection.shutdown(socket.SHUT_RDWR)
            self.rfile.close()  # drop the makefile reference so close() really closes the socket
            self.connection.close()
        except OSError:
            pass


_MALFORMED_KINDS = frozenset({"bad_status_line", "many_headers", "long_header_line", "bad_chunked"})
_HOSTILE_KINDS = frozenset({"gzip_bomb", "huge_body", "trickle", "deep_json", "echo_auth"}) | _MALFORMED_KINDS
_EMPTY_PAGE = b'{"count":0,"total":0,"data":[],"links":{}}'
_BOMB_MEMBER_BYTES = 64 * 2**20
_bombs: dict[int, bytes] = {}
_bombs_lock = threading.Lock()


def gzip_bomb(size: int) -> bytes:
    """A gzip body (several members) that decodes to an empty page padded with spaces to `size` bytes.

    A 64 MiB member of spaces compresses to ~64 KB, so 3 GiB is ~3 MB on the wire; built once per size.
    """
    with _bombs_lock:
        bomb = _bombs.get(size)
        if bomb is None:
            full, rest = divmod(max(size - len(_EMPTY_PAGE), 0), _BOMB_MEMBER_BYTES)
            parts = [gzip.compress(_EMPTY_PAGE, compresslevel=6)]
            if full:
                member = gzip.compress(b" " * _BOMB_MEMBER_BYTES, compresslevel=6)
                parts.extend([member] * full)
            if rest:
                parts.append(gzip.compress(b" " * rest, compresslevel=6))
            bomb = _bombs[size] = b"".join(parts)
        return bomb


def _retry_after(value: int | float | str) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


class _Server6(_Server):
    """The server on an IPv6 address (`simulate --host ::1`): `_Server` would open an IPv4 socket."""

    address_family = socket.AF_INET6
