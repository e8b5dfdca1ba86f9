"""The gRPC client of C1's `BatonService`: TLS, the access token on every call, errors as one type.

As baton-sdk's `service_client.go`: the address is `BATON_C1_API_HOST` or the client id's host, port
443 unless given; every request carries the host id; `authorization: Bearer <token>` on every call.
One channel for the process (grpcio reconnects by itself) instead of the SDK's dial per call.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import grpc

from orchestration.service.access_token import TokenError, TokenSource, certificate_problem
from pipelines.c1z.proto.c1.connectorapi.baton.v1 import baton_pb2 as baton
from pipelines.c1z.proto.c1.connectorapi.baton.v1 import baton_pb2_grpc as baton_grpc
from pipelines.c1z.proto.google.rpc import status_pb2

logger = logging.getLogger("baton_xmatters.service")

CALL_TIMEOUT_S = 30.0
# An upload has no deadline (baton-sdk has none either): a large .c1z on a slow link may take hours.
# It ends when it stalls instead: C1 took no message of the stream, or, after the last, did not
# answer, for this long. A healthy link takes a 512 KiB chunk well within it (down to ~4 KiB/s).
UPLOAD_STALL_S = 120.0
CHUNK_BYTES = 512 * 1024  # baton-sdk's chunk size; C1 accepts at most 1 MiB per message
UPLOAD_ATTEMPTS = 3
UPLOAD_WAITS_S = (0.0, 1.0)
STOP_CHECK_S = 0.2  # how often a running upload looks at its stop condition

# grpcio's words for a certificate that failed verification (BoringSSL's reason, in UNAVAILABLE's details)
_CERTIFICATE_FAILED = "CERTIFICATE_VERIFY_FAILED"

T = TypeVar("T")
Abort = Callable[[], bool]  # true once a call in flight should be cancelled (the service stops)


def never() -> bool:
    return False


class CallError(Exception):
    """A failed call: its gRPC status code and a one-line message (never a credential).
    `certificate`: C1's TLS certificate failed verification (the token endpoint's or gRPC's)."""

    def __init__(self, code: grpc.StatusCode, message: str, *, certificate: bool = False) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.certificate = certificate


def grpc_target(api_host: str) -> str:
    host_has_port = api_host.startswith("[") and "]:" in api_host or api_host.count(":") == 1
    return api_host if host_has_port else f"{api_host}:443"


class BatonClient:
    def __init__(
        self,
        api_host: str,
        host_id: str,
        tokens: TokenSource,
        root_certificates: bytes | None,
        user_agent: str,
    ) -> None:
        self.host_id = host_id
        self.target = grpc_target(api_host)
        self._tokens = tokens
        credentials = grpc.ssl_channel_credentials(root_certificates=root_certificates)
        self._channel = grpc.secure_channel(
            self.target, credentials, options=[("grpc.primary_user_agent", user_agent)]
        )
        self._stub = baton_grpc.BatonServiceStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def _metadata(self, abort: Abort) -> tuple[tuple[str, str], ...]:
        try:
            return (("authorization", self._tokens.authorization(abort)),)
        except TokenError as exc:
            code = grpc.StatusCode.UNAUTHENTICATED if exc.refused else grpc.StatusCode.UNAVAILABLE
            raise CallError(code, str(exc), certificate=exc.certificate) from None

    def _call(self, name: str, call: Callable[[tuple[tuple[str, str], ...]], T], abort: Abort) -> T:
        """`call` with the token's metadata; `abort()` also ends the wait for a token."""
        metadata = self._metadata(abort)
        try:
            return call(metadata)
        except grpc.RpcError as exc:
            code = exc.code() if isinstance(exc, grpc.Call) else grpc.StatusCode.UNKNOWN
            details = (exc.details() if isinstance(exc, grpc.Call) else None) or ""
            if code == grpc.StatusCode.UNAVAILABLE and _CERTIFICATE_FAILED in details:
                raise CallError(
                    code, certificate_problem(self.target, _CERTIFICATE_FAILED), certificate=True
                ) from None
            raise CallError(
                code, f"{name} at {self.target}: {details.splitlines()[0] if details else code.name}"
            ) from None

    def _unary(
        self,
        name: str,
        method: grpc.UnaryUnaryMultiCallable,
        request: Any,
        abort: Abort,
        timeout: float = CALL_TIMEOUT_S,
    ) -> Any:
        """A unary call through `_call`, cancelled once `abort()` holds."""
        return self._call(
            name, lambda md: _result(method.future(request, metadata=md, timeout=timeout), abort), abort
        )

    def hello(self, request: baton.BatonServiceHelloRequest, abort: Abort = never) -> None:
        self._unary("Hello", self._stub.Hello, request, abort)

    def get_task(self, abort: Abort = never) -> baton.BatonServiceGetTaskResponse:
        request = baton.BatonServiceGetTaskRequest(host_id=self.host_id)
        return self._unary("GetTask", self._stub.GetTask, request, abort)

    def heartbeat(self, task_id: str, abort: Abort = never) -> baton.BatonServiceHeartbeatResponse:
        request = baton.BatonServiceHeartbeatRequest(host_id=self.host_id, task_id=task_id)
        return self._unary("Heartbeat", self._stub.Heartbeat, request, abort)

    def finish_success(self, task_id: str, *, timeout: float = CALL_TIMEOUT_S) -> None:
        request = baton.BatonServiceFinishTaskRequest(
            host_id=self.host_id, task_id=task_id, success=baton.BatonServiceFinishTaskRequest.Success()
        )
        self._finish(request, timeout)

    def finish_error(
        self,
        task_id: str,
        code: grpc.StatusCode,
        message: str,
        *,
        non_retryable: bool,
        timeout: float = CALL_TIMEOUT_S,
    ) -> None:
        request = baton.BatonServiceFinishTaskRequest(
            host_id=self.host_id,
            task_id=task_id,
            status=status_pb2.Status(code=code.value[0], message=message),
            error=baton.BatonServiceFinishTaskRequest.Error(non_retryable=non_retryable),
        )
        self._finish(request, timeout)

    def _finish(self, request: baton.BatonServiceFinishTaskRequest, timeout: float) -> None:
        """A failed FinishTask is logged, not retried (baton-sdk's manager.go does the same).

        `timeout` bounds the call and the wait for a token before it.
        """
        deadline = time.monotonic() + timeout
        try:
            self._unary(
                "FinishTask", self._stub.FinishTask, request, lambda: time.monotonic() >= deadline, timeout
            )
        except CallError as exc:
            logger.error("FinishTask for task %s failed: %s", request.task_id, exc)

    def upload(self, task_id: str, path: Path, stop: Callable[[], bool] = lambda: False) -> str:
        """UploadAsset of the whole file: metadata, 512 KiB chunks, the sha256; three attempts.

        Returns the hex digest. Each attempt streams from offset 0, as baton-sdk does.
        """
        digest = sha256_file(path)
        last: CallError | None = None
        for attempt in range(UPLOAD_ATTEMPTS):
            if attempt:
                wait = UPLOAD_WAITS_S[min(attempt - 1, len(UPLOAD_WAITS_S) - 1)]
                logger.warning(
                    "upload of task %s failed (%s); attempt %d in %.0f s", task_id, last, attempt + 1, wait
                )
                if _sleep_unless(stop, wait):
                    break
            try:
                self._call("UploadAsset", lambda md: self._stream(task_id, path, digest, md, stop), stop)
                return digest.hex()
            except CallError as exc:
                last = exc
                if stop():
                    break
        if stop():
            raise CallError(grpc.StatusCode.CANCELLED, "upload abandoned: the task was stopped")
        raise last or CallError(grpc.StatusCode.UNKNOWN, "upload failed")

    def _stream(
        self,
        task_id: str,
        path: Path,
        digest: bytes,
        metadata: tuple[tuple[str, str], ...],
        stop: Callable[[], bool],
    ) -> None:
        """One UploadAsset stream, cancelled as soon as `stop()` says so or it stalls.

        Why not just stop yielding chunks: gRPC has read ahead as many as flow control allows, and
        the call lasts until C1 has read them all, minutes for a slow tenant (baton-sdk cancels the
        stream's context instead). Why a stall and not a deadline: a fixed deadline (600 s, once)
        failed every attempt of a healthy upload that needed longer, whatever the file's size; gRPC
        asks for the next message only once it has taken the last, so a stream whose messages stop
        being taken is one C1 stopped reading (or a dead link).
        """
        progress = _Progress()
        call = self._stub.UploadAsset.future(
            progress.track(_upload_messages(self.host_id, task_id, path, digest, stop)), metadata=metadata
        )
        try:
            _result(
                call,
                lambda: stop() or progress.stalled(UPLOAD_STALL_S),
                "upload abandoned: the task was stopped",
            )
        except CallError as exc:
            if stop() or not progress.stalled(UPLOAD_STALL_S):
                raise
            raise CallError(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                f"UploadAsset at {self.target}: stalled, C1 took no data and sent no answer for "
                f"{UPLOAD_STALL_S:g} s ({progress.taken} of the stream's messages taken)",
            ) from exc


class _Progress:
    """When the upload stream's last message was taken by gRPC (the clock a stall is measured on)."""

    def __init__(self) -> None:
        self.last = time.monotonic()
        self.taken = 0

    def track(self, messages: Iterator[T]) -> Iterator[T]:
        for message in messages:
            self.last = time.monotonic()
            yield message
            self.taken += 1
        self.last = time.monotonic()  # the eof was taken: C1's answer is now awaited

    def stalled(self, seconds: float) -> bool:
        return time.monotonic() - self.last > seconds


def _result(call: grpc.Future, abort: Abort, abandoned: str = "call abandoned: stopping") -> Any:
    """The call's result, or CANCELLED within STOP_CHECK_S of `abort()` turning true.

    Why not a plain blocking call: a tenant that stops answering (dropped packets) held SIGTERM
    for the whole deadline (30 s per call; an upload has only its stall limit); baton-sdk's
    cancelled context ends its calls at once. A failed call raises its `grpc.RpcError`, which
    `_call` words.
    """
    while True:
        try:
            return call.result(timeout=STOP_CHECK_S)
        except grpc.FutureTimeoutError:
            if abort():
                call.cancel()
                raise CallError(grpc.StatusCode.CANCELLED, abandoned) from None


def sha256_file(path: Path) -> bytes:
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            hasher.update(chunk)
    return hasher.digest()


def _upload_messages(
    host_id: str, task_id: str, path: Path, digest: bytes, stop: Callable[[], bool]
) -> Iterator[baton.BatonServiceUploadAssetRequest]:
    request = baton.BatonServiceUploadAssetRequest
    yield request(metadata=request.UploadMetadata(host_id=host_id, task_id=task_id))
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            if stop():
                return  # the stream ends without eof: C1 discards it
            yield request(data=request.UploadData(data=chunk))
    yield request(eof=request.UploadEOF(sha256_checksum=digest))


def _sleep_unless(stop: Callable[[], bool], seconds: float) -> bool:
    """Sleeps `seconds` in small steps; True (at once) when `stop()` says so."""
    deadline = time.monotonic() + seconds
    while not stop():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(left, 0.1))
    return True


__all__ = ["BatonClient", "CallError", "grpc_target", "sha256_file"]
