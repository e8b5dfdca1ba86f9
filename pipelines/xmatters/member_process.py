"""The sync's side of the member-call process (`member_worker.py`): start it early, send it groups.

Started when the extract starts, so the child imports its modules while dlt sets up and `/groups`
is listed; by the time the groups are known it is ready for them. The child gets the environment
without `BATON_*` variables (proxies and CA settings stay); the config, password included, goes
over its stdin, never on a command line. Its stderr goes to a private file whose last line explains
a child that died. Leaving the context (a finished, failed or cancelled extract) ends the child.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import select
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import IO, Any

import pyarrow as pa

from pipelines.child_processes import child_environment
from pipelines.xmatters.client import XmattersClient
from pipelines.xmatters.config import XmattersConfig
from pipelines.xmatters.errors import XmattersError
from pipelines.xmatters.report import SkippedGroup

_EXIT_WAIT_S = 5.0
_CANCEL_POLL_S = 0.1  # how often a cancelled extract is noticed while no reply arrives


class MemberProcess:
    """One `python -m pipelines.xmatters.member_worker` child and its pipes; one request at a time."""

    def __init__(self, config: XmattersConfig) -> None:
        self._log: IO[bytes] = tempfile.TemporaryFile(prefix="member-calls-")  # noqa: SIM115 - closed in stop()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "pipelines.xmatters.member_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=child_environment(os.environ),
            bufsize=0,  # unbuffered: select() on the pipe then tells whether a reply has arrived
        )
        self._in_step = True  # replies and requests are in step (no request half answered)
        self._send((config.validate(), logging.getLogger("pipelines").getEffectiveLevel()))

    @property
    def pid(self) -> int:
        return self._process.pid

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
                if not select.select([self._process.stdout], [], [], _CANCEL_POLL_S)[0]:
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
        process = self._process
        if process.stdin is not None and not process.stdin.closed:
            with contextlib.suppress(OSError):
                process.stdin.close()
        if process.poll() is None:
            process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()
        self._log.close()
        self._in_step = False

    def _send(self, message: Any) -> None:
        assert self._process.stdin is not None
        try:
            pickle.dump(message, self._process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self._process.stdin.flush()
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
        stdout = self._process.stdout
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
        try:
            code = self._process.wait(timeout=_EXIT_WAIT_S)
        except subprocess.TimeoutExpired:
            self._process.kill()
            code = self._process.wait()
        self._log.seek(0)
        lines = [line.strip() for line in self._log.read().decode(errors="replace").splitlines()]
        last = next((line for line in reversed(lines) if line), "no output")
        return f"the member-call process (pid {self._process.pid}) exited with code {code}: {last}"
