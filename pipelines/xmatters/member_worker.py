"""The member-call process: runs the member calls of the groups it is sent, returns Arrow tables.

Why a process: a large tenant's member calls are thousands of requests whose responses are decoded
and batched in Python. In the sync's own process they share one GIL with dlt writing the tables,
so one core does both while the other waits; here they run on the other core, and the sync only
receives finished tables (`member_process.py` is the sync's side).

Protocol, pickled objects (the parent is this process's only peer):
- stdin: `(XmattersConfig, log level)` once, then one list of `(group id, name)` per request;
- stdout, each reply an 8-byte little-endian length and then its pickle; per request, any number
  of `("table", Arrow IPC stream)`, `("skipped", SkippedGroup)` and `("log", level, logger name,
  message)`, then `("done", counts)`, or `("error", exception, counts)` after which the process
  exits. Counts are `ExtractReport.counts()`.
The process ends when stdin closes (the parent is done, or died) or a reply cannot be written.
Anything else it prints goes to stderr, which the parent reads to explain a process that died.

    python -m pipelines.xmatters.member_worker
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import sys
import threading
from typing import Any, BinaryIO

import pyarrow as pa

from pipelines.xmatters.client import XmattersClient
from pipelines.xmatters.config import XmattersConfig
from pipelines.xmatters.errors import XmattersError
from pipelines.xmatters.member_calls import member_tables
from pipelines.xmatters.report import SkippedGroup
from pipelines.xmatters.scrub import scrub


class _Replies:
    """Pickled replies on the original stdout; the member threads log while the main thread sends."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._lock = threading.Lock()

    def send(self, message: tuple[Any, ...]) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            self._out.write(len(data).to_bytes(8, "little"))  # framed: the parent waits with select()
            self._out.write(data)
            self._out.flush()


class _ForwardLogs(logging.Handler):
    """Log records of the client (retries, waits) go to the parent, which logs them as its own."""

    def __init__(self, replies: _Replies) -> None:
        super().__init__()
        self._replies = replies

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(OSError):  # the parent is gone; the next table reply ends this process
            self._replies.send(("log", record.levelno, record.name, record.getMessage()))


def main() -> None:
    replies = _Replies(os.fdopen(os.dup(sys.stdout.fileno()), "wb"))
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints land on stderr
    sys.stdout = sys.stderr
    requests = sys.stdin.buffer
    config, level = pickle.load(requests)
    if not isinstance(config, XmattersConfig):
        raise SystemExit(f"expected an XmattersConfig first, got {type(config).__name__}")
    source_logger = logging.getLogger("pipelines")
    source_logger.addHandler(_ForwardLogs(replies))
    source_logger.setLevel(level)
    source_logger.propagate = False
    while True:
        try:
            groups = pickle.load(requests)
        except EOFError:  # the parent closed the pipe: done
            return
        _serve(config, groups, replies)


def _serve(config: XmattersConfig, groups: list[tuple[str, str | None]], replies: _Replies) -> None:
    client = XmattersClient(config)
    try:
        for item in member_tables(client, groups):
            if isinstance(item, SkippedGroup):
                replies.send(("skipped", item))
            else:
                replies.send(("table", pickle.PickleBuffer(_ipc_stream(item))))
    except BrokenPipeError:  # the parent is gone
        raise SystemExit(1) from None
    except BaseException as exc:  # noqa: BLE001 - every failure is the parent's to report
        replies.send(("error", _portable(exc), client.report.counts()))
        raise SystemExit(1) from None
    finally:
        client.close()
    replies.send(("done", client.report.counts()))


def _ipc_stream(table: pa.Table) -> pa.Buffer:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _portable(exc: BaseException) -> BaseException:
    """The exception as the parent should raise it: classified errors as they are, others named."""
    if isinstance(exc, XmattersError):
        return exc
    return RuntimeError(scrub(f"the member calls failed: {type(exc).__name__}: {exc}"))


if __name__ == "__main__":
    main()
