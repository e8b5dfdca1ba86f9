"""The one framing of the sync's worker processes (member calls, GX checks), both directions.

A frame is a 4-byte little-endian length, that many bytes of a JSON header `{"kind": ..., ...}`,
and, when the header says `"arrow": true`, an Arrow IPC stream (self-delimiting: its end-of-stream
marker ends the body). Tables therefore travel batch by batch, one IPC body per table, never
pickled; a sender may stream a reader it has not fully materialized.

Conventions every worker keeps:
- `{"kind": "log", "level", "logger", "message"}`: a child's log record, logged by the parent as
  its own (`ParentLink.forward_logs`, `WorkerProcess.receive`);
- `{"kind": "error", "error": <class name>, "message": ...}`: a failure, re-raised by the parent as
  the class its owner's table maps the name to (`Frame.error`), with the message as sent;
- a child that ends (EOF, a cut frame) is reported with its exit code and last stderr line
  (`WorkerDied`).

Parent side: `WorkerProcess` (owned by `MemberProcess`, `ValidationWorker`); child side:
`ParentLink` (in `member_worker.py`, `expectations/worker.py`).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import select
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import pyarrow as pa

from pipelines.child_processes import ChildProcess

_HEADER_LIMIT = 1 << 24  # a header is a small JSON object; a larger length means a broken stream


class FrameError(Exception):
    """The stream ended inside a frame or holds no frame: the peer died or wrote something else."""


@dataclass
class Frame:
    kind: str
    fields: dict[str, Any] = field(default_factory=dict)
    table: pa.Table | None = None

    def error(
        self, classes: Mapping[str, type[BaseException]], default: type[BaseException]
    ) -> BaseException:
        """The exception an `error` frame stands for: its class from `classes`, its message as sent.

        Built without calling the class's `__init__`, which may reword the message (an
        `XmattersError` adds its prefix, already in the sent text).
        """
        cls = classes.get(str(self.fields.get("error")), default)
        exc = cls.__new__(cls)
        BaseException.__init__(exc, str(self.fields.get("message", "")))
        return exc


def write_frame(
    out: BinaryIO,
    kind: str,
    fields: Mapping[str, Any] | None = None,
    body: pa.Table | pa.RecordBatchReader | None = None,
) -> int:
    """Writes one frame and flushes; returns the rows of its body. Errors of `body` propagate."""
    header = json.dumps({**(fields or {}), "kind": kind, "arrow": body is not None}).encode()
    out.write(len(header).to_bytes(4, "little") + header)
    rows = 0
    if body is not None:
        batches = body.to_reader() if isinstance(body, pa.Table) else body
        with pa.ipc.new_stream(out, batches.schema) as stream:
            for batch in batches:
                stream.write_batch(batch)
                rows += batch.num_rows
    out.flush()
    return rows


def read_frame(source: BinaryIO) -> Frame | None:
    """The next frame, or None when the stream ended cleanly between frames."""
    exact = _ExactReader(source)
    prefix = exact.read(4)
    if not prefix:
        return None
    if len(prefix) < 4:
        raise FrameError("the stream ended inside a frame's length")
    size = int.from_bytes(prefix, "little")
    if size > _HEADER_LIMIT:
        raise FrameError(f"a frame header of {size} bytes")
    data = exact.read(size)
    if len(data) < size:
        raise FrameError("the stream ended inside a frame header")
    try:
        fields = json.loads(data)
        kind = fields.pop("kind")
        has_body = fields.pop("arrow", False)
    except (ValueError, KeyError, AttributeError, TypeError) as exc:
        raise FrameError(f"an unreadable frame header: {exc}") from None
    table = None
    if has_body:
        try:
            table = pa.ipc.open_stream(exact).read_all()
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise FrameError(f"the stream ended inside a frame's table: {exc}") from None
    return Frame(str(kind), fields, table)


class _ExactReader(io.RawIOBase):
    """Reads of exactly the size asked (short only at EOF), also from an unbuffered pipe.

    Arrow takes a short read for a cut stream; a pipe returns what has arrived so far.
    """

    def __init__(self, source: BinaryIO) -> None:
        super().__init__()
        self._source = source

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            return self._source.read()
        first = self._source.read(size)
        if not first or len(first) == size:  # a buffered stream answers whole: no copy
            return first
        chunks = bytearray(first)
        while len(chunks) < size:
            chunk = self._source.read(size - len(chunks))
            if not chunk:
                break
            chunks += chunk
        return bytes(chunks)


class WorkerDied(Exception):
    """The worker process ended or broke its stream: named with its exit code and last line."""


class WorkerProcess:
    """The parent's side of one worker: `python -m <module>` (a `ChildProcess`) and its frames."""

    def __init__(self, module: str, description: str) -> None:
        self.description = description
        # unbuffered: select() on the pipe then tells whether a reply has arrived; requests are
        # buffered on top so a streamed table is not one write per Arrow buffer
        self.child = ChildProcess(module, unbuffered=True)
        assert self.child.process.stdin is not None
        self._requests = io.BufferedWriter(self.child.process.stdin, buffer_size=1 << 16)  # type: ignore[arg-type]

    @property
    def pid(self) -> int:
        return self.child.pid

    def alive(self) -> bool:
        return self.child.alive()

    def send(
        self,
        kind: str,
        fields: Mapping[str, Any] | None = None,
        body: pa.Table | pa.RecordBatchReader | None = None,
        *,
        doing: str | None = None,
    ) -> int:
        """Sends one frame (rows sent); a broken pipe (pyarrow's IO errors too) raises `WorkerDied`."""
        try:
            return write_frame(self._requests, kind, fields, body)
        except OSError:
            raise WorkerDied(self.death_notice(doing)) from None

    def readable(self, timeout_s: float) -> bool:
        """Whether a frame (or the child's end) has arrived within `timeout_s`."""
        stdout = self.child.process.stdout
        return bool(select.select([stdout], [], [], timeout_s)[0])

    def receive(self, *, doing: str | None = None) -> Frame:
        """The next frame other than a log record (those are logged here as the parent's own)."""
        stdout = self.child.process.stdout
        assert stdout is not None
        while True:
            try:
                frame = read_frame(stdout)
            except (FrameError, OSError, ValueError):
                frame = None
            if frame is None:
                raise WorkerDied(self.death_notice(doing))
            if frame.kind != "log":
                return frame
            fields = frame.fields
            logging.getLogger(str(fields.get("logger"))).log(
                int(fields.get("level", 0)), "%s", fields.get("message")
            )

    def stop(self) -> None:
        self.child.stop()

    def death_notice(self, doing: str | None = None) -> str:
        """`the <description> (pid N) exited with code C[ while <doing>]: <its last stderr line>`."""
        code, last = self.child.exit_status()
        while_doing = f" while {doing}" if doing else ""
        return f"the {self.description} (pid {self.pid}) exited with code {code}{while_doing}: {last}"


class ParentLink:
    """The child's side: frames on the original stdout, requests from stdin.

    Stray prints (a library's, GX's) go to stderr, so they can never corrupt a frame. Sending is
    locked: a child's threads log while its main thread replies.
    """

    def __init__(self) -> None:
        self._out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
        sys.stdout = sys.stderr
        self._in = sys.stdin.buffer
        self._lock = threading.Lock()

    def send(
        self,
        kind: str,
        fields: Mapping[str, Any] | None = None,
        body: pa.Table | pa.RecordBatchReader | None = None,
    ) -> None:
        with self._lock:
            write_frame(self._out, kind, fields, body)

    def send_error(self, exc: BaseException, message: str | None = None) -> None:
        self.send("error", {"error": type(exc).__name__, "message": str(exc) if message is None else message})

    def receive(self) -> Frame | None:
        """The next request; None once the parent closed the pipe (it is done, or died)."""
        return read_frame(self._in)

    def forward_logs(self, logger_name: str, level: int) -> None:
        """Records of `logger_name` go to the parent, which logs them as its own, not here."""
        logger = logging.getLogger(logger_name)
        logger.addHandler(_ForwardLogs(self))
        logger.setLevel(level)
        logger.propagate = False

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._out.close()


class _ForwardLogs(logging.Handler):
    def __init__(self, link: ParentLink) -> None:
        super().__init__()
        self._link = link

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(OSError):  # the parent is gone; the next reply ends this process
            self._link.send(
                "log", {"level": record.levelno, "logger": record.name, "message": record.getMessage()}
            )
