"""The member calls of a list of groups, `concurrency` at a time, as Arrow tables and skipped groups:
on this process's threads (`member_tables`) or in the member-call process (`MemberProcess`).

One call per group (the API has no bulk membership endpoint), on a thread pool; pages are decoded
by the calling thread and batched into Arrow tables (`MembersBatcher`). `member_tables` runs in the
sync's own process (`source.group_members` without a member process: tests, the standalone
pipeline) and in the member-call process, whose entry point is `member_worker.py` and which puts
this work on the machine's other core.

`MemberProcess` is the sync's side of that process. Started when the extract starts, so the child
imports its modules while dlt sets up and `/groups` is listed; by the time the groups are known it
is ready for them. The child gets the environment without `BATON_*` variables (proxies and CA
settings stay); the config, password included, goes over its stdin, never on a command line. Its
stderr goes to a private file whose last line explains a child that died. Leaving the context (a
finished, failed or cancelled extract) ends the child.
"""

from __future__ import annotations

import logging
import pickle
import select
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from types import TracebackType
from typing import Any

import pyarrow as pa

from pipelines.child_processes import ChildProcess
from pipelines.xmatters.client import XmattersClient
from pipelines.xmatters.config import XmattersConfig
from pipelines.xmatters.errors import NotFoundError, XmattersError
from pipelines.xmatters.member_pages import MembersBatcher
from pipelines.xmatters.report import SkippedGroup


def member_tables(
    client: XmattersClient, groups: Iterable[tuple[str, str | None]]
) -> Iterator[pa.Table | SkippedGroup]:
    """Tables of the groups' member rows and, for a group deleted since `/groups` listed it (404),
    a `SkippedGroup`: its row stays, with no memberships. Every other error is raised.

    Stops early, without an error, once the client is cancelled (another resource failed and
    reports its own error).
    """
    batcher = MembersBatcher()
    pool = ThreadPoolExecutor(max_workers=client.config.concurrency, thread_name_prefix="xmatters-members")
    try:
        pending: dict[Future[list[Any]], tuple[str, str | None]] = {}
        for group_id, name in groups:
            pending[pool.submit(client.group_members, group_id)] = (group_id, name)
        # as_completed waits once per call; wait(FIRST_COMPLETED) rescanned every pending call each time
        for future in as_completed(pending):
            if client.cancelled:
                return
            group_id, name = pending.pop(future)  # drop the reference: the result is freed once used
            try:
                items = future.result()
            except NotFoundError as exc:
                yield SkippedGroup(group_id, name, str(exc))
                continue
            yield from batcher.add(group_id, items)
        yield from batcher.flush()
    except BaseException:
        client.cancel()  # in-flight calls stop instead of retrying for a run that already failed
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


_CANCEL_POLL_S = 0.1  # how often a cancelled extract is noticed while no reply arrives


class MemberProcess:
    """One `python -m pipelines.xmatters.member_worker` child and its pipes; one request at a time."""

    def __init__(self, config: XmattersConfig) -> None:
        # unbuffered: select() on the pipe then tells whether a reply has arrived
        self._child = ChildProcess("pipelines.xmatters.member_worker", unbuffered=True)
        self._in_step = True  # replies and requests are in step (no request half answered)
        self._send((config.validate(), logging.getLogger("pipelines").getEffectiveLevel()))

    @property
    def pid(self) -> int:
        return self._child.pid

    def alive(self) -> bool:
        return self._child.alive()

    def __enter__(self) -> MemberProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def member_tables(
        self, client: XmattersClient, groups: Iterable[tuple[str, str | None]]
    ) -> Iterator[pa.Table | SkippedGroup]:
        """`member_calls.member_tables` run by the child: the same tables, skipped groups and errors.

        The child's request counts are added to `client.report`, its log records are logged here. A
        cancelled client (another resource failed) ends the child within `_CANCEL_POLL_S`.
        """
        if not self._in_step:
            raise XmattersError("the member-call process was stopped by an earlier failure")
        self._in_step = False
        self._send(list(groups))
        done = False
        try:
            while not done:
                if client.cancelled:
                    return
                if not select.select([self._child.process.stdout], [], [], _CANCEL_POLL_S)[0]:
                    continue
                kind, *rest = self._receive()
                if kind == "table":
                    yield pa.ipc.open_stream(pa.py_buffer(rest[0])).read_all()
                elif kind == "skipped":
                    yield rest[0]
                elif kind == "log":
                    level, name, message = rest
                    logging.getLogger(name).log(level, "%s", message)
                elif kind == "done":
                    client.report.add_counts(rest[0])
                    done = True
                else:  # "error": the child has exited
                    client.report.add_counts(rest[1])
                    raise rest[0]
        finally:
            if done:
                self._in_step = True
            else:  # failed, cancelled or abandoned mid-request: its replies would be out of step
                self.stop()

    def stop(self) -> None:
        """Ends the child at once: an unfinished request has no use once the extract stopped."""
        self._child.stop()
        self._in_step = False

    def _send(self, message: Any) -> None:
        stdin = self._child.process.stdin
        assert stdin is not None
        try:
            pickle.dump(message, stdin, protocol=pickle.HIGHEST_PROTOCOL)
            stdin.flush()
        except OSError:  # a broken pipe: the child died
            raise XmattersError(self._death_notice()) from None

    def _receive(self) -> tuple[Any, ...]:
        """The next reply: an 8-byte length, then that many bytes of pickle."""
        try:
            size = int.from_bytes(self._read_exactly(8), "little")
            return pickle.loads(self._read_exactly(size))  # noqa: S301 - our own child's replies
        except (EOFError, pickle.UnpicklingError, OSError):
            raise XmattersError(self._death_notice()) from None

    def _read_exactly(self, size: int) -> bytearray:
        stdout = self._child.process.stdout
        assert stdout is not None
        data = bytearray(size)
        view = memoryview(data)
        received = 0
        while received < size:
            count = stdout.readinto(view[received:])  # type: ignore[attr-defined]
            if not count:
                raise EOFError("the member-call process closed its output")
            received += count
        return data

    def _death_notice(self) -> str:
        code, last = self._child.exit_status()
        return f"the member-call process (pid {self.pid}) exited with code {code}: {last}"
