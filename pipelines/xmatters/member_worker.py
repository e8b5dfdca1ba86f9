"""The member-call process: runs the member calls of the groups it is sent, returns Arrow tables.

Why a process: a large tenant's member calls are thousands of requests whose responses are decoded
and batched in Python. In the sync's own process they share one GIL with dlt writing the tables,
so one core does both while the other waits; here they run on the other core, and the sync only
receives finished tables (`member_calls.MemberProcess` is the sync's side).

Protocol: the frames of `pipelines/worker_protocol.py` (the parent is this process's only peer):
- stdin: `config` (`{"config": XmattersConfig fields, "level": log level}`) once, then one
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

import os
import queue
import sys
import threading
from collections.abc import Iterable, Iterator

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
    try:
        for item in member_tables(client, groups):
            if isinstance(item, SkippedGroup):
                link.send("skipped", {"group": list(item)})
            else:
                link.send("table", body=item)  # one Arrow IPC body per table
    except BrokenPipeError:  # the parent is gone
        raise SystemExit(1) from None
    except BaseException as exc:  # noqa: BLE001 - every failure is the parent's to report
        link.send("error", {**_portable(exc), "counts": client.report.counts()})
        raise SystemExit(1) from None
    finally:
        client.close()
    link.send("done", {"counts": client.report.counts()})


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
