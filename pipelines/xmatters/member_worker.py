"""The member-call process: runs the member calls of the groups it is sent, returns Arrow tables.

Why a process: a large tenant's member calls are thousands of requests whose responses are decoded
and batched in Python. In the sync's own process they share one GIL with dlt writing the tables,
so one core does both while the other waits; here they run on the other core, and the sync only
receives finished tables (`member_calls.MemberProcess` is the sync's side).

Protocol: the frames of `pipelines/worker_protocol.py` (the parent is this process's only peer):
- stdin: `config` (`{"config": XmattersConfig fields, "level": log level, "nice": n}`; n > 0
  lowers this process's priority, for a sync that starts it before its run) once, then one
  `groups` (`{"groups": [[id, name], ...]}`) per request; a request with `"more": true` goes on
  in `more` frames of the same shape until one says `"more": false` (a listing's pages as they
  arrive: the calls of the first page's groups start before the last page is listed);
- stdout, per request: any number of `table` (an Arrow body), `skipped` (`{"group": [id, name,
  reason]}`) and `log` frames, then `done` (`{"counts": ExtractReport.counts()}`), or `error`
  (class name, message, counts) after which the process exits.
The process ends when stdin closes (the parent is done, or died) or a reply cannot be written.
Anything else it prints goes to stderr, which the parent reads to explain a process that died.

    python -m pipelines.xmatters.member_worker
"""

from __future__ import annotations

import collections
import os
import queue
import sys
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa

from pipelines.released_memory import release_unused_memory
from pipelines.worker_protocol import Frame, ParentLink
from pipelines.xmatters.client import XmattersClient
from pipelines.xmatters.config import XmattersConfig
from pipelines.xmatters.errors import XmattersError
from pipelines.xmatters.member_calls import member_tables
from pipelines.xmatters.report import SkippedGroup
from pipelines.xmatters.scrub import scrub


def main() -> None:
    link = ParentLink()
    first = link.receive()
    if first is None or first.kind != "config":
        raise SystemExit(f"expected a config frame first, got {first and first.kind!r}")
    config = XmattersConfig(**first.fields["config"])
    if first.fields.get("nice"):
        os.nice(int(first.fields["nice"]))
    link.forward_logs("pipelines", int(first.fields["level"]))
    while True:
        request = link.receive()
        if request is None:  # the parent closed the pipe: done
            return
        if not request.fields.get("more"):
            _serve(config, _groups(request), link)
        else:
            try:
                _serve(config, _parts(_groups(request), link), link)
            except SystemExit as failed:
                # The reply is sent, but the thread reading the request's parts may still wait on
                # stdin, holding its lock: the interpreter's shutdown would abort on it (SIGABRT).
                sys.stderr.flush()
                os._exit(failed.code if isinstance(failed.code, int) else 1)
        release_unused_memory()  # the batches' memory: the process idles through dlt's load


def _groups(frame: Frame) -> list[tuple[str, str | None]]:
    return [(str(group_id), name) for group_id, name in frame.fields["groups"]]


def _parts(first: list[tuple[str, str | None]], link: ParentLink) -> Iterator[tuple[str, str | None]]:
    """The groups of a request sent in parts: `first`, then those of its `more` frames.

    The frames are read on a thread as they come, so the parent never waits to send one (it may be
    listing the next page while this process writes it a table); the calls wait only for groups
    not listed yet. A closed stdin (the parent is gone) ends the groups.
    """
    parts: queue.SimpleQueue[list[tuple[str, str | None]] | RuntimeError | None] = queue.SimpleQueue()

    def read() -> None:
        while True:
            frame = link.receive()
            if frame is not None and frame.kind != "more":
                parts.put(RuntimeError(f"expected a 'more' frame, got {frame.kind!r}"))
                return
            if frame is None:
                parts.put(None)
                return
            parts.put(_groups(frame))
            if not frame.fields.get("more"):
                parts.put(None)
                return

    threading.Thread(target=read, name="member-groups", daemon=True).start()
    yield from first
    while (part := parts.get()) is not None:
        if isinstance(part, RuntimeError):
            raise part
        yield from part


def _serve(config: XmattersConfig, groups: Iterable[tuple[str, str | None]], link: ParentLink) -> None:
    client = XmattersClient(config)
    client.host_answered()  # its groups come from a `/groups` page: a later NXDOMAIN is a blip
    replies = QueuedReplies(link)
    try:
        for item in member_tables(client, groups):
            if isinstance(item, SkippedGroup):
                replies.send("skipped", {"group": list(item)})
            else:
                replies.send("table", body=item)  # one Arrow IPC body per table
    except BrokenPipeError:  # the parent is gone
        raise SystemExit(1) from None
    except BaseException as exc:  # noqa: BLE001 - every failure is the parent's to report
        replies.send("error", {**_portable(exc), "counts": client.report.counts()})
        replies.finish()
        raise SystemExit(1) from None
    finally:
        client.close()
    replies.send("done", {"counts": client.report.counts()})
    replies.finish()


# Tables written and not yet read by the parent, at most (a table larger alone still goes). Why: a
# sync that starts this process before its run (sync_command, `early_members.py`) reads nothing for
# ~1 s while it imports Dagster; the pipe alone (64 KiB) stopped the calls after ~one table. 32 MiB
# is ~165,000 member rows (~200 bytes each in Arrow), ~4 s of member calls at 20 ms and concurrency 8.
REPLY_BUFFER_BYTES = 32 << 20


class QueuedReplies:
    """Replies written to the parent by a thread, in order, while the calls go on: the calls wait
    only once `limit` bytes of tables are queued and unwritten."""

    def __init__(self, link: ParentLink, limit: int = REPLY_BUFFER_BYTES) -> None:
        self._link = link
        self._limit = limit
        self._queue: collections.deque[tuple[str, dict[str, Any] | None, pa.Table | None, int]] = (
            collections.deque()
        )
        self._queued_bytes = 0
        self._failed = False
        self._finished = False
        self._changed = threading.Condition()
        threading.Thread(target=self._write, name="member-replies", daemon=True).start()

    def send(self, kind: str, fields: dict[str, Any] | None = None, body: pa.Table | None = None) -> None:
        """Queues one frame; waits while the queue is full; BrokenPipeError once a write failed."""
        size = body.nbytes if body is not None else 0
        with self._changed:
            while not self._failed and self._queued_bytes and self._queued_bytes + size > self._limit:
                self._changed.wait()
            if self._failed:
                raise BrokenPipeError("the parent stopped reading")
            self._queue.append((kind, fields, body, size))
            self._queued_bytes += size
            self._changed.notify_all()

    def finish(self) -> None:
        """Returns once every queued frame is written (or a write failed: the parent is gone); the
        writing thread then ends."""
        with self._changed:
            self._finished = True
            self._changed.notify_all()
            while self._queue and not self._failed:
                self._changed.wait()

    def _write(self) -> None:
        while True:
            with self._changed:
                while not self._queue:
                    if self._finished:
                        return
                    self._changed.wait()
                kind, fields, body, size = self._queue[0]
            try:
                self._link.send(kind, fields, body)
            except BaseException:  # noqa: BLE001 - the parent is gone: the sender learns it
                with self._changed:
                    self._failed = True
                    self._changed.notify_all()
                return
            with self._changed:
                self._queue.popleft()
                self._queued_bytes -= size
                self._changed.notify_all()


def _portable(exc: BaseException) -> dict[str, str]:
    """The error as the parent should raise it: classified errors by class name, others named."""
    if isinstance(exc, XmattersError):
        return {"error": type(exc).__name__, "message": str(exc)}
    return {
        "error": "RuntimeError",
        "message": scrub(f"the member calls failed: {type(exc).__name__}: {exc}"),
    }


if __name__ == "__main__":
    main()
