"""A local fake ConductorOne tenant: one TLS port serving the token endpoint and `BatonService`.

As `../shared/docs/c1-service-mode.md` section 9 asks: the token URL and gRPC share host:port, as
in C1. Python has no server for both on one port, so a small asyncio TLS front terminates TLS and
looks at the negotiated ALPN protocol: `h2` (gRPC clients always offer it) is piped to a grpcio
server listening on a private loopback port; anything else is read as an HTTP/1.1 request for
`POST /auth/v1/token`. The token endpoint verifies the client assertion with the public half of
the key it minted and checks the claims; every gRPC call must carry a token it issued.
Everything is recorded for the tests to assert on.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import ssl
import threading
import time
import urllib.parse
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.duration_pb2 import Duration

from pipelines.c1z.proto.c1.connectorapi.baton.v1 import baton_pb2 as baton
from pipelines.c1z.proto.c1.connectorapi.baton.v1 import baton_pb2_grpc as baton_grpc
from tests.pki import TestPki

TENANT_HOST = "tenant.conductor.one"
CLIENT_ID = f"fake-connector@{TENANT_HOST}/pcc"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def task_id() -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(27))


def duration(seconds: float) -> Duration:
    whole = int(seconds)
    return Duration(seconds=whole, nanos=int((seconds - whole) * 1e9))


# -- client credentials as C1 mints them --------------------------------------------------------------
@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    client_secret: str
    key: Ed25519PrivateKey


def mint_credentials(client_id: str = CLIENT_ID) -> ClientCredentials:
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url(public), "d": b64url(raw)}
    secret = "secret-token:conductorone.com:v1:" + b64url(json.dumps(jwk).encode())
    return ClientCredentials(client_id, secret, key)


# -- recorded state ------------------------------------------------------------------------------------
@dataclass
class Upload:
    task_id: str
    data: bytes
    chunk_sizes: list[int]
    sha256: bytes


@dataclass
class FakeState:
    """What the fake does (set by tests) and what it saw (read by tests)."""

    # behaviour
    token_status: int = 200
    token_expires_in: int = 3600
    token_hang_s: float = 0.0  # the token endpoint holds each answer this long (a hung endpoint)
    tasks: list[baton.Task] = field(default_factory=list)
    next_poll_s: float = 0.2
    next_heartbeat_s: float = 0.5
    unavailable_calls: dict[str, int] = field(default_factory=dict)  # method -> calls to fail first
    cancel_at_heartbeat: int | None = None  # answer cancelled=true from this heartbeat on (1-based)
    cut_uploads: int = 0  # uploads to abort after their first data chunk
    upload_chunk_delay_s: float = 0.0  # a slow tenant: time taken to read each data chunk
    hang_s: dict[str, float] = field(default_factory=dict)  # method -> seconds before each answer
    fail_heartbeats_after: int | None = None  # answer UNAVAILABLE to heartbeats after this many
    # observations
    calls: list[tuple[str, Any]] = field(default_factory=list)  # (method, request), in order
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)
    uploads: list[Upload] = field(default_factory=list)
    cut: int = 0
    chunks_received: int = 0  # data messages read, over all uploads
    heartbeats: dict[str, int] = field(default_factory=dict)
    finished: list[baton.BatonServiceFinishTaskRequest] = field(default_factory=list)
    lock: threading.Condition = field(default_factory=threading.Condition)

    def methods(self) -> list[str]:
        with self.lock:
            return [name for name, _ in self.calls]

    def wait_for(self, predicate: Any, timeout: float) -> bool:
        with self.lock:
            return self.lock.wait_for(lambda: predicate(self), timeout=timeout)


class _Servicer(baton_grpc.BatonServiceServicer):
    def __init__(self, state: FakeState) -> None:
        self.state = state

    def _enter(self, name: str, request: Any, context: grpc.ServicerContext) -> None:
        metadata = dict(context.invocation_metadata())
        header = metadata.get("authorization", "")
        with self.state.lock:
            self.state.calls.append((name, request))
            self.state.lock.notify_all()
            authorized = header.startswith("Bearer ") and header[len("Bearer ") :] in self.state.tokens
            remaining = self.state.unavailable_calls.get(name, 0)
            if authorized and remaining:
                self.state.unavailable_calls[name] = remaining - 1
            hang = self.state.hang_s.get(name, 0.0)
        time.sleep(hang)  # a tenant that stopped answering (packets dropped), for a while
        if not authorized:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or unknown bearer token")
        if remaining:
            context.abort(grpc.StatusCode.UNAVAILABLE, "fake C1 is unavailable for now")

    def Hello(self, request, context):  # noqa: N802 - gRPC method names
        self._enter("Hello", request, context)
        return baton.BatonServiceHelloResponse()

    def GetTask(self, request, context):  # noqa: N802
        self._enter("GetTask", request, context)
        with self.state.lock:
            task = self.state.tasks.pop(0) if self.state.tasks else None
        response = baton.BatonServiceGetTaskResponse(
            next_poll=duration(self.state.next_poll_s), next_heartbeat=duration(self.state.next_heartbeat_s)
        )
        if task is not None:
            response.task.CopyFrom(task)
        return response

    def Heartbeat(self, request, context):  # noqa: N802
        self._enter("Heartbeat", request, context)
        with self.state.lock:
            count = self.state.heartbeats.get(request.task_id, 0) + 1
            self.state.heartbeats[request.task_id] = count
            cancel = self.state.cancel_at_heartbeat is not None and count >= self.state.cancel_at_heartbeat
            fail = self.state.fail_heartbeats_after is not None and count > self.state.fail_heartbeats_after
            self.state.lock.notify_all()
        if fail:
            context.abort(grpc.StatusCode.UNAVAILABLE, "fake C1 heartbeat outage")
        return baton.BatonServiceHeartbeatResponse(
            next_heartbeat=duration(self.state.next_heartbeat_s), cancelled=cancel
        )

    def FinishTask(self, request, context):  # noqa: N802
        self._enter("FinishTask", request, context)
        with self.state.lock:
            self.state.finished.append(request)
            self.state.lock.notify_all()
        return baton.BatonServiceFinishTaskResponse()

    def UploadAsset(self, request_iterator, context):  # noqa: N802
        first = next(request_iterator, None)
        self._enter("UploadAsset", first, context)
        if first is None or first.WhichOneof("msg") != "metadata":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the first message must be metadata")
        data = bytearray()
        sizes: list[int] = []
        for message in request_iterator:
            kind = message.WhichOneof("msg")
            if kind == "data":
                time.sleep(self.state.upload_chunk_delay_s)
                with self.state.lock:
                    self.state.chunks_received += 1
                    self.state.lock.notify_all()
                if not 1 <= len(message.data.data) <= 1048576:
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, "chunk size out of 1..1048576")
                data += message.data.data
                sizes.append(len(message.data.data))
                with self.state.lock:
                    cut = self.state.cut < self.state.cut_uploads
                    if cut:
                        self.state.cut += 1
                if cut:
                    context.abort(grpc.StatusCode.UNAVAILABLE, "connection reset mid-upload (fake)")
            elif kind == "eof":
                if hashlib.sha256(data).digest() != message.eof.sha256_checksum:
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, "sha256 mismatch")
                with self.state.lock:
                    self.state.uploads.append(
                        Upload(first.metadata.task_id, bytes(data), sizes, message.eof.sha256_checksum)
                    )
                    self.state.lock.notify_all()
                return baton.BatonServiceUploadAssetResponse()
            else:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "unexpected metadata message")
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "stream ended without eof")


class FakeC1:
    """`with FakeC1(pki, credentials) as c1:` serves on `c1.api_host` (`localhost:<port>`)."""

    def __init__(self, pki: TestPki, credentials: ClientCredentials) -> None:
        self.pki = pki
        self.credentials = credentials
        self.state = FakeState()
        self._grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        baton_grpc.add_BatonServiceServicer_to_server(_Servicer(self.state), self._grpc)
        self._backend_port = self._grpc.add_insecure_port("127.0.0.1:0")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-c1", daemon=True)
        self.port = 0

    @property
    def api_host(self) -> str:
        return f"localhost:{self.port}"

    def __enter__(self) -> FakeC1:
        self._grpc.start()
        self._thread.start()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.pki.cert_pem, self.pki.key_pem)
        context.set_alpn_protocols(["h2", "http/1.1"])
        server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._connection, "127.0.0.1", 0, ssl=context), self._loop
        ).result(10)
        self._server = server
        self.port = server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._grpc.stop(grace=None)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    async def _shutdown(self) -> None:
        """Close the listener and end every open connection inside the loop (no warnings at exit)."""
        self._server.close()
        current = asyncio.current_task()
        pending = [task for task in asyncio.all_tasks() if task is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    # -- the TLS front ---------------------------------------------------------------------------
    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ssl_object = writer.get_extra_info("ssl_object")
        try:
            if ssl_object is not None and ssl_object.selected_alpn_protocol() == "h2":
                await self._pipe_to_grpc(reader, writer)
            else:
                await self._http(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, asyncio.CancelledError):
            pass  # cancelled: the fake is shutting down with this connection open (a held answer)
        finally:
            writer.close()

    async def _pipe_to_grpc(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        back_reader, back_writer = await asyncio.open_connection("127.0.0.1", self._backend_port)

        async def copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, ssl.SSLError):
                pass
            finally:
                sink.close()

        await asyncio.gather(copy(reader, back_writer), copy(back_reader, writer))

    async def _http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines if h)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        status, payload = self._token(request_line, headers, body)
        await asyncio.sleep(self.state.token_hang_s)
        data = json.dumps(payload).encode()
        writer.write(
            f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
            + data
        )
        await writer.drain()

    def _token(self, request_line: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        record: dict[str, Any] = {"request_line": request_line, "headers": headers}
        with self.state.lock:
            self.state.token_requests.append(record)
            self.state.lock.notify_all()
        if request_line.split(" ")[:2] != ["POST", "/auth/v1/token"]:
            return 404, {"error": "not found"}
        form = dict(urllib.parse.parse_qsl(body.decode()))
        record["form_keys"] = sorted(form)
        problem = self._check_assertion(form, headers, record)
        if problem:
            record["problem"] = problem
            return 401, {"error": "invalid_client", "error_description": problem}
        if self.state.token_status != 200:
            return self.state.token_status, {"error": "invalid_client"}
        token = secrets.token_urlsafe(24)
        with self.state.lock:
            self.state.tokens.add(token)
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": self.state.token_expires_in}

    def _check_assertion(self, form: dict[str, str], headers: dict[str, str], record: dict[str, Any]) -> str:
        if headers.get("content-type") != "application/x-www-form-urlencoded":
            return "content type"
        if (
            form.get("grant_type") != "client_credentials"
            or form.get("client_assertion_type") != ASSERTION_TYPE
        ):
            return "grant type"
        if form.get("client_id") != self.credentials.client_id:
            return "client id"
        try:
            header_b64, claims_b64, signature_b64 = form["client_assertion"].split(".")
            header = json.loads(b64url_decode(header_b64))
            claims = json.loads(b64url_decode(claims_b64))
            self.credentials.key.public_key().verify(
                b64url_decode(signature_b64), f"{header_b64}.{claims_b64}".encode()
            )
        except (KeyError, ValueError, InvalidSignature):
            return "assertion signature"
        record["header"], record["claims"] = header, claims
        now = time.time()
        if header.get("alg") != "EdDSA" or len(header.get("nonce", "")) != 32:
            return "assertion header"
        if claims.get("iss") != self.credentials.client_id or claims.get("sub") != self.credentials.client_id:
            return "issuer/subject"
        if claims.get("aud") != TENANT_HOST:
            return "audience"
        if not claims["nbf"] <= now <= claims["exp"] or abs(claims["iat"] - now) > 60:
            return "validity"
        return ""

    # -- task helpers -------------------------------------------------------------------------------
    def add_task(self, kind: str = "sync_full", **fields: Any) -> str:
        task = baton.Task(id=task_id(), status=baton.Task.STATUS_PENDING)
        getattr(task, kind).SetInParent()
        for key, value in fields.items():
            setattr(getattr(task, kind), key, value)
        with self.state.lock:
            self.state.tasks.append(task)
        return task.id

    def add_task_of_unknown_type(self, field_number: int = 200) -> str:
        """A task whose type is a field this build's protos lack (a task type newer than them)."""
        task = baton.Task(id=task_id(), status=baton.Task.STATUS_PENDING)
        tag = (field_number << 3) | 2  # length-delimited: an empty message
        task.MergeFromString(_varint(tag) + b"\x00")
        assert task.WhichOneof("task_type") is None
        with self.state.lock:
            self.state.tasks.append(task)
        return task.id

    def finished_task(self, task: str) -> baton.BatonServiceFinishTaskRequest | None:
        with self.state.lock:
            return next((f for f in self.state.finished if f.task_id == task), None)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    return bytes(out + bytes([value]))


def iter_log(path: Path) -> Iterator[str]:
    yield from path.read_text(errors="replace").splitlines()
