"""The service loop: Hello, GetTask polling, one task at a time, heartbeats, upload, FinishTask.

Timings and retries are baton-sdk's (`pkg/tasks/c1api/manager.go`, `pkg/connectorrunner/runner.go`;
`../shared/docs/c1-service-mode.md` section 6). One difference on purpose: tasks run one at a time,
not three at once, because a sync holds the warehouse's single-writer lock; a second sync task
would only fail on it.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.duration_pb2 import Duration

from orchestration.service import health
from orchestration.service.client import CALL_TIMEOUT_S, BatonClient, CallError
from orchestration.service.hello import hello_request
from orchestration.service.sync_task import SyncProcess, SyncResult, child_options, start_sync_process
from orchestration.service.task_dirs import TaskDir
from pipelines.c1z.proto.c1.connectorapi.baton.v1 import baton_pb2 as baton

logger = logging.getLogger("baton_xmatters.service")

HELLO_FATAL = {
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.UNIMPLEMENTED,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.NOT_FOUND,
}
HELLO_BACKOFF_START_S = 1.0
HELLO_BACKOFF_MAX_S = 300.0
MAX_POLL_S = 300.0
POLL_ERROR_MAX_WAIT_S = 60.0
DEFAULT_HEARTBEAT_S = 30.0
MIN_HEARTBEAT_S = 1.0
MAX_HEARTBEAT_S = 300.0
MAX_HEARTBEAT_FAILURES = 10
SYNC_POLL_S = 0.2
# The whole graceful stop (SIGTERM/SIGINT to exit) fits in STOP_BUDGET_S, well within the 10 s after
# which `podman stop` and `docker stop` send SIGKILL (Kubernetes: 30 s): the stop is seen and calls in
# flight are cancelled within STOP_CHECK_S (0.2 s) each; a running sync gets sync_task.STOP_WAIT_S
# (3 s) after its SIGTERM, then is killed with its workers, and its output READER_WAIT_S (0.5 s);
# the task's FinishTask gets FINISH_WHEN_STOPPING_S (2.5 s, its token included); the heartbeat thread
# HEARTBEATS_JOIN_S at most. Worst case ~7 s; with a responsive C1 and sync, about a second.
STOP_BUDGET_S = 8.0
FINISH_WHEN_STOPPING_S = 2.5
HEARTBEATS_JOIN_S = 0.5  # the heartbeat thread's call is cancelled by `done` within STOP_CHECK_S
# Exit codes of the CLI sync that mean "retrying the same task cannot help" (usage, source changed).
NON_RETRYABLE_EXIT_CODES = {2}


class FatalServiceError(Exception):
    """The service cannot go on (bad credentials at start-up): one line, exit 1."""


class ServiceSetupError(FatalServiceError):
    """A set-up the service cannot work with, met at its first contact with C1 (a TLS certificate
    that fails verification): one line, exit 2 as the set-up errors found before it."""


def seconds(duration: Duration) -> float:
    return duration.seconds + duration.nanos / 1e9


def heartbeat_interval(duration: Duration | None) -> float:
    value = seconds(duration) if duration is not None else 0.0
    if value <= 0:
        return DEFAULT_HEARTBEAT_S
    return min(max(value, MIN_HEARTBEAT_S), MAX_HEARTBEAT_S)


def is_task(task: baton.Task) -> bool:
    """Work to answer: any type but `none`, and a task with an id but a type this build's protos
    do not know (one newer than them). baton-sdk finishes the latter as "unsupported task type";
    skipping it would leave the task waiting in C1 with nothing said."""
    kind = task.WhichOneof("task_type")
    return kind != "none" if kind is not None else bool(task.id)


class Service:
    def __init__(
        self,
        client: BatonClient,
        sync_options: Mapping[str, Any],
        temp_dir: str | None,
        stop: threading.Event,
        start_sync: Callable[[Mapping[str, Any], Sequence[int], str], SyncProcess] = start_sync_process,
    ) -> None:
        # Alike in shape only to simulator/app.py's constructor (`duplicates` pairs them): plain
        # assignments of unrelated classes, nothing to share.
        self.client = client
        self.sync_options = sync_options
        self.temp_dir = temp_dir
        self.stop = stop
        self._start_sync = start_sync
        self._alive = health.alive_file()
        health.forget(self._alive)
        self._cancel_reason = "cancelled by C1"  # set by the heartbeat thread before it cancels

    def alive(self) -> None:
        """A call to C1 succeeded: the health check's file (see health.py)."""
        health.touch(self._alive)

    # -- start-up -------------------------------------------------------------------------------
    def hello(self) -> None:
        """Hello until it succeeds: 1 s doubling to 5 min; a credentials or request error is fatal."""
        wait = HELLO_BACKOFF_START_S
        while not self.stop.is_set():
            try:
                self.client.hello(hello_request(self.client.host_id), self.stop.is_set)
                self.alive()
                logger.info("connected to C1 at %s as host %s", self.client.target, self.client.host_id)
                return
            except CallError as exc:
                if self.stop.is_set():
                    return
                if exc.code in HELLO_FATAL:
                    raise FatalServiceError(exc.message) from None
                if exc.certificate:  # never connected: a wrong host or a missing CA, not an outage
                    raise ServiceSetupError(exc.message) from None
                logger.warning("Hello failed (%s); retrying in %.0f s", exc, wait)
            if self.stop.wait(wait):
                return
            wait = min(wait * 2, HELLO_BACKOFF_MAX_S)

    # -- polling ---------------------------------------------------------------------------------
    def run(self) -> None:
        self.hello()
        errors = 0
        while not self.stop.is_set():
            try:
                response = self.client.get_task(self.stop.is_set)
            except CallError as exc:
                if self.stop.is_set():
                    break
                errors += 1
                wait = min(errors * errors, POLL_ERROR_MAX_WAIT_S)
                logger.warning("GetTask failed (%s); polling again in %.0f s", exc, wait)
                self.stop.wait(wait)
                continue
            errors = 0
            self.alive()
            task = response.task if response.HasField("task") else None
            if task is not None and is_task(task):
                self.handle(task, response.next_heartbeat if response.HasField("next_heartbeat") else None)
            self.stop.wait(min(max(seconds(response.next_poll), 0.0), MAX_POLL_S))

    # -- tasks -----------------------------------------------------------------------------------
    def handle(self, task: baton.Task, next_heartbeat: Duration | None) -> None:
        kind = task.WhichOneof("task_type")
        logger.info("task %s: %s", task.id, kind or "a type unknown to this build")
        if kind == "hello":
            try:
                self.client.hello(hello_request(self.client.host_id, task.id), self.stop.is_set)
            except CallError as exc:
                logger.error("Hello for task %s failed: %s", task.id, exc)
        elif kind == "sync_full":
            self.full_sync(task, next_heartbeat)
        else:  # grant, revoke, create_account, ...: capabilities this read-only connector lacks
            name = kind or "unknown to this version of baton-xmatters"
            self._finish_error(
                task.id,
                grpc.StatusCode.UNIMPLEMENTED,
                f"baton-xmatters is a read-only connector: task type {name} is not supported",
                non_retryable=True,
            )

    def full_sync(self, task: baton.Task, next_heartbeat: Duration | None) -> None:
        try:
            workdir = TaskDir(self.temp_dir)
        except OSError as exc:  # the directory went away or filled up: this task fails, not the service
            where = self.temp_dir or tempfile.gettempdir()
            message = f"cannot make the task's directory in {where}: {exc.strerror or exc}"
            logger.error("task %s: %s", task.id, message)
            self._finish_error(task.id, grpc.StatusCode.UNKNOWN, message, non_retryable=False)
            return
        try:
            self._full_sync(task, next_heartbeat, workdir)
        finally:
            workdir.remove()

    def _full_sync(self, task: baton.Task, next_heartbeat: Duration | None, workdir: TaskDir) -> None:
        sync_file = workdir.path / "sync.c1z"
        try:
            first = self.client.heartbeat(task.id, self.stop.is_set)
        except CallError as exc:  # baton-sdk: stop the task without FinishTask
            logger.error("task %s: first heartbeat failed (%s); task left to C1", task.id, exc)
            return
        if first.cancelled:
            self._finish_cancelled(task.id, "cancelled by C1 before the sync started")
            return
        interval = heartbeat_interval(
            first.next_heartbeat if first.HasField("next_heartbeat") else next_heartbeat
        )
        cancelled = threading.Event()
        done = threading.Event()
        beats = threading.Thread(
            target=self._heartbeats, args=(task.id, interval, cancelled, done), name="heartbeats", daemon=True
        )
        try:
            # the sync holds the directory's lock too: removed only once it is gone (task_dirs.py)
            sync = self._start_sync(child_options(self.sync_options, sync_file), (workdir.lock_fd,), task.id)
        except OSError as exc:  # no interpreter, no memory for a process: the task fails, the service stays
            message = f"cannot start the sync process: {exc}"
            logger.error("task %s: %s", task.id, message)
            self._finish_error(task.id, grpc.StatusCode.UNKNOWN, message, non_retryable=False)
            return
        beats.start()
        try:  # heartbeats go on through the upload, as in baton-sdk, until the task is finished
            self._run_and_upload(task, sync, sync_file, cancelled)
        finally:
            done.set()
            beats.join(timeout=HEARTBEATS_JOIN_S)

    def _run_and_upload(
        self, task: baton.Task, sync: SyncProcess, sync_file: Path, cancelled: threading.Event
    ) -> None:
        result = self._wait(sync, cancelled)
        if cancelled.is_set() or self.stop.is_set():
            reason = self._cancel_reason if cancelled.is_set() else "the service is stopping"
            said = f" (the sync: {result.error})" if result.error else ""  # its error line is not echoed
            self._finish_cancelled(task.id, f"sync stopped: {reason}", said)
            return
        if not result.success:
            message = result.error or f"the sync failed (exit {result.exit_code})"
            # one line, the task's: the sync's own error line is not echoed (sync_task.py)
            logger.error(
                "task %s failed (sync exit %d): %s; finished in C1 as failed, the service goes on",
                task.id,
                result.exit_code,
                message,
            )
            self._finish_error(
                task.id,
                grpc.StatusCode.UNKNOWN,
                message,
                non_retryable=result.exit_code in NON_RETRYABLE_EXIT_CODES,
            )
            return
        try:
            digest = self.client.upload(task.id, sync_file, lambda: cancelled.is_set() or self.stop.is_set())
        except CallError as exc:
            logger.error("task %s: upload failed: %s", task.id, exc)
            stopped = cancelled.is_set() or self.stop.is_set()
            code = grpc.StatusCode.CANCELLED if stopped else exc.code
            self._finish_error(task.id, code, f"upload failed: {exc.message}", non_retryable=False)
            return
        logger.info(
            "task %s: uploaded %s (%d bytes, sha256 %s)",
            task.id,
            sync_file.name,
            sync_file.stat().st_size,
            digest,
        )
        self.client.finish_success(task.id, timeout=self._finish_timeout())

    def _wait(self, sync: SyncProcess, cancelled: threading.Event) -> SyncResult:
        while True:
            result = sync.poll(SYNC_POLL_S)
            if result is not None:
                return result
            if cancelled.is_set() or self.stop.is_set():
                return sync.stop()

    def _heartbeats(
        self, task_id: str, interval: float, cancelled: threading.Event, done: threading.Event
    ) -> None:
        failures = 0
        while not done.wait(interval):
            try:
                reply = self.client.heartbeat(task_id, lambda: done.is_set() or self.stop.is_set())
            except CallError as exc:
                if done.is_set() or self.stop.is_set():
                    return  # the task is ending: its FinishTask says how
                failures += 1
                logger.warning("task %s: heartbeat failed (%d in a row): %s", task_id, failures, exc)
                if failures >= MAX_HEARTBEAT_FAILURES:
                    logger.error("task %s: %d heartbeats failed; cancelling the sync", task_id, failures)
                    self._cancel_reason = f"{failures} heartbeats failed in a row"
                    cancelled.set()
                    return
                continue
            failures = 0
            self.alive()
            if reply.cancelled:
                logger.info("task %s: cancelled by C1", task_id)
                self._cancel_reason = "cancelled by C1"
                cancelled.set()
                return
            if reply.HasField("next_heartbeat"):
                interval = heartbeat_interval(reply.next_heartbeat)

    def _finish_timeout(self) -> float:
        """FinishTask goes out even when stopping (as baton-sdk), but must not hold SIGTERM long."""
        return FINISH_WHEN_STOPPING_S if self.stop.is_set() else CALL_TIMEOUT_S

    def _finish_error(
        self, task_id: str, code: grpc.StatusCode, message: str, *, non_retryable: bool
    ) -> None:
        self.client.finish_error(
            task_id, code, message, non_retryable=non_retryable, timeout=self._finish_timeout()
        )

    def _finish_cancelled(self, task_id: str, message: str, log_detail: str = "") -> None:
        logger.info("task %s: %s%s", task_id, message, log_detail)
        self._finish_error(task_id, grpc.StatusCode.CANCELLED, message, non_retryable=False)
