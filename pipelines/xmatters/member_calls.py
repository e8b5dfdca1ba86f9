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

import dataclasses
import itertools
import json
import logging
import queue
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any, NamedTuple

import pyarrow as pa

from pipelines.worker_protocol import Frame, WorkerDied, WorkerProcess
from pipelines.xmatters.client import XmattersClient
from pipelines.xmatters.config import XmattersConfig
from pipelines.xmatters.errors import (
    AuthError,
    ConfigError,
    NotFoundError,
    ProtocolError,
    UnavailableError,
    XmattersError,
)
from pipelines.xmatters.member_pages import MembersBatcher
from pipelines.xmatters.paging import Page
from pipelines.xmatters.report import SkippedGroup

logger = logging.getLogger(__name__)

# Calls submitted but not yet read, per thread. Submitting every group at once let the threads run
# ahead of the reader (the sync writing tables, or the pipe to it): at scale L the member-call
# process held ~400 MB of finished pages nobody had read yet. Eight per thread keep the threads busy
# while the reader builds and sends a table, and bound the unread pages to a few MB.
UNREAD_CALLS_PER_THREAD = 8
CANCEL_POLL_S = 0.1  # how often a cancelled extract is noticed while nothing arrives
# The most name bytes one `groups`/`more` frame carries (a frame's JSON header is capped at 16 MB,
# `worker_protocol._HEADER_LIMIT`): a /groups page of 1,000 groups with 20 KB names is 20 MB and
# failed the extract ("a frame header of 20046060 bytes"); a page is sent in parts of this size.
FRAME_GROUP_BYTES = 4 * 2**20

# A group's member items are held until its listing ends, up to this many: a group deleted while its
# pages are read (404) then gets no memberships at all, as one deleted before its call. A longer
# listing hands its items on in parts of this size as it goes: held whole, a server whose member
# pages never end made one call hold up to --max-pages x 1,000 items (~5 GB at the defaults). Two
# pages of 1,000: at --concurrency 32 the calls hold ~35 MB at most.
HELD_MEMBER_ITEMS = 2_000
UNREAD_PARTS = 4  # parts handed on and not yet read, at most: a thread with another one waits


class MemberPart(NamedTuple):
    """Pages of a group whose listing goes on (more than `HELD_MEMBER_ITEMS` items, or the thread
    is about to wait for bytes: response_budget.py), handed on early."""

    group_id: str
    pages: list[Page]


class _Parts:
    """Parts handed from the call threads to the reader, `UNREAD_PARTS` unread at most: a thread
    waits while the reader is behind (no part piles up), and stops waiting once the extract is
    cancelled."""

    def __init__(self, events: queue.SimpleQueue[Any], client: XmattersClient) -> None:
        self._events = events
        self._client = client
        self._slots = threading.Semaphore(UNREAD_PARTS)

    def put(self, part: MemberPart) -> None:
        while not self._slots.acquire(timeout=CANCEL_POLL_S):
            if self._client.cancelled:
                raise XmattersError("member calls cancelled: the extract already failed")
        self._events.put(part)

    def read(self) -> None:
        """The reader took a part: a thread may hand on another."""
        self._slots.release()


def _listed_members(client: XmattersClient, group_id: str, parts: _Parts) -> list[Page]:
    """A group's member pages: the last (or only) `HELD_MEMBER_ITEMS` items of them; earlier ones
    were handed on as `MemberPart`s. The pages' bytes stay counted until the reader has batched
    them; a failed call releases its own."""
    held: list[Page] = []
    held_items = 0

    def hand_on() -> None:
        nonlocal held, held_items
        if held:
            part, held, held_items = MemberPart(group_id, held), [], 0
            parts.put(part)

    try:
        with client.response_budget.on_wait(hand_on):
            for page in client.group_member_pages(group_id):
                held.append(page)
                held_items += len(page)
                if held_items >= HELD_MEMBER_ITEMS:
                    hand_on()
    except BaseException:
        _release(held)
        raise
    return held


def _release(pages: list[Page]) -> None:
    for page in pages:
        page.release()


def _items(pages: list[Page]) -> tuple[list[Any], int]:
    """The pages' items, and the bytes of the bodies they came from."""
    if len(pages) == 1:
        return pages[0], pages[0].size
    return [item for page in pages for item in page], sum(page.size for page in pages)


def member_tables(
    client: XmattersClient, groups: Iterable[tuple[str, str | None]]
) -> Iterator[pa.Table | SkippedGroup]:
    """Tables of the groups' member rows and, for a group deleted since `/groups` listed it (404),
    a `SkippedGroup`: its row stays, with no memberships (a long group's rows already handed on
    are counted in `SkippedGroup.rows_sent`, for the loader to remove). Every other error is raised.

    Stops early, without an error, once the client is cancelled (another resource failed and
    reports its own error).
    """
    batcher = MembersBatcher()
    concurrency = client.config.concurrency
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="xmatters-members")
    try:
        pending: dict[Future[list[Any]], tuple[str, str | None]] = {}
        # finished calls, in completion order, and the parts of long listings, each after the parts
        # of its group before it and before its group's finished call
        events: queue.SimpleQueue[Future[list[Any]] | MemberPart] = queue.SimpleQueue()
        parts = _Parts(events, client)
        rows_sent: dict[str, int] = {}  # rows of unfinished groups handed on as parts
        queued = iter(groups)

        def submit(group: tuple[str, str | None]) -> None:
            future = pool.submit(_listed_members, client, group[0], parts)
            pending[future] = group
            future.add_done_callback(events.put)

        for group in itertools.islice(queued, concurrency * UNREAD_CALLS_PER_THREAD):
            submit(group)
        # one finished call read, one more submitted: O(1) per call, unlike `wait` over the window
        while pending:
            event = events.get()
            if client.cancelled:
                return
            if isinstance(event, MemberPart):
                parts.read()
                items, size = _items(event.pages)
                rows_sent[event.group_id] = rows_sent.get(event.group_id, 0) + len(items)
                yield from batcher.add(event.group_id, items, size)
                _release(event.pages)
                del event, items
                continue
            group_id, name = pending.pop(event)  # drop the reference: the result is freed once used
            following = next(queued, None)
            if following is not None:
                submit(following)
            sent = rows_sent.pop(group_id, 0)
            try:
                pages = event.result()
            except NotFoundError as exc:
                yield SkippedGroup(group_id, name, str(exc), sent)
                continue
            items, size = _items(pages)
            yield from batcher.add(group_id, items, size)
            _release(pages)
            del event, pages, items
        yield from batcher.flush()
        logger.debug(
            "member calls: at most %.1f MiB of response bodies and pages held at once",
            client.response_budget.peak / 2**20,
        )
    except BaseException:
        client.cancel()  # in-flight calls stop instead of retrying for a run that already failed
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _listed_group(item: dict[str, Any]) -> tuple[str, str | None]:
    """A `/groups` item as the member calls take it: (id, target name or None)."""
    name = item.get("targetName")
    return item["id"], name if isinstance(name, str) else None


def _frame_parts(
    groups: Iterable[tuple[str, str | None]], max_bytes: int = FRAME_GROUP_BYTES
) -> list[list[list[str | None]]]:
    """`groups` as the `groups` lists of frames of at most ~`max_bytes` of ids and names each (a
    group larger than that alone in its frame); always at least one list, maybe empty."""
    parts: list[list[list[str | None]]] = [[]]
    size = 0
    for group_id, name in groups:
        group_bytes = len(json.dumps([group_id, name]))  # as the header writes it (\u escapes)
        if parts[-1] and size + group_bytes > max_bytes:
            parts.append([])
            size = 0
        parts[-1].append([group_id, name])
        size += group_bytes
    return parts


class MemberProcess:
    """One `python -m pipelines.xmatters.member_worker` child (`WorkerProcess`); one request at a time."""

    def __init__(self, config: XmattersConfig, niceness: int = 0) -> None:
        """Starts the child; `niceness` lowers its priority (`os.nice` in the child) when above 0."""
        self._worker = WorkerProcess("pipelines.xmatters.member_worker", "member-call process")
        self._in_step = True  # replies and requests are in step (no request half answered)
        self._offer: str | None = None  # a request sent in parts (`offer`): "open", then "closed"
        self._offer_failed = False  # a part could not be sent: the answer says why
        level = logging.getLogger("pipelines").getEffectiveLevel()
        self._send(
            "config", {"config": dataclasses.asdict(config.validate()), "level": level, "nice": niceness}
        )

    @property
    def pid(self) -> int:
        return self._worker.pid

    def alive(self) -> bool:
        return self._worker.alive()

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
        cancelled client (another resource failed) ends the child within `CANCEL_POLL_S`.
        """
        if not self._in_step:
            raise XmattersError("the member-call process was stopped by an earlier failure")
        self._in_step = False
        parts = _frame_parts(groups)
        for index, part in enumerate(parts):
            kind = "groups" if index == 0 else "more"
            self._send(kind, {"groups": part, "more": index < len(parts) - 1})
        yield from self._answer(client)

    def offer(self, groups: Iterable[tuple[str, str | None]], *, last: bool) -> None:
        """Sends part of a request's groups, whose calls the child starts at once (the parts of a
        listing, page by page, so no call waits for its last page); `last` ends the request, and
        `offered_tables` reads its answer. A part the child can no longer take is not an error here:
        the child's own error (or its death) is what the answer reports."""
        if self._offer == "closed":
            raise RuntimeError("the offered request is closed: read it with offered_tables")
        if self._offer is None:
            if not self._in_step:
                raise XmattersError("the member-call process was stopped by an earlier failure")
            self._in_step = False
        parts = _frame_parts(groups)
        for index, part in enumerate(parts):
            kind = "groups" if self._offer is None else "more"
            final = last and index == len(parts) - 1
            self._offer = "closed" if final else "open"
            if self._offer_failed:
                continue
            try:
                self._worker.send(kind, {"groups": part, "more": not final})
            except WorkerDied:
                self._offer_failed = True

    def offer_pages(self, pages: Iterable[list[dict[str, Any]]]) -> Iterator[list[dict[str, Any]]]:
        """`/groups` pages as they arrive, each page's groups offered first; the listing's end closes
        the offer (`offered_tables` reads the answer)."""
        for page in pages:
            self.offer([_listed_group(item) for item in page], last=False)
            yield page
        self.offer((), last=True)

    def offered_tables(self, client: XmattersClient) -> Iterator[pa.Table | SkippedGroup]:
        """The answer to the request of `offer` (closed first): as `member_tables` answers."""
        if self._offer != "closed":
            raise RuntimeError("offered_tables reads a request that `offer(..., last=True)` closed")
        self._offer = None
        yield from self._answer(client)

    def _answer(self, client: XmattersClient) -> Iterator[pa.Table | SkippedGroup]:
        done = False
        try:
            while not done:
                if client.cancelled:
                    return
                if not self._worker.readable(CANCEL_POLL_S):
                    continue
                frame = self._receive()
                if frame.kind == "table" and frame.table is not None:
                    yield frame.table
                elif frame.kind == "skipped":
                    yield SkippedGroup(*frame.fields["group"])
                elif frame.kind == "done":
                    client.report.add_counts(tuple(frame.fields["counts"]))  # type: ignore[arg-type]
                    done = True
                elif frame.kind == "error":  # the child has exited
                    client.report.add_counts(tuple(frame.fields["counts"]))  # type: ignore[arg-type]
                    raise frame.error(ERROR_CLASSES, RuntimeError)
                else:
                    raise XmattersError(f"the member-call process sent an unknown {frame.kind!r} frame")
        finally:
            if done:
                self._in_step = True
            else:  # failed, cancelled or abandoned mid-request: its replies would be out of step
                self.stop()

    def stop(self) -> None:
        """Ends the child at once: an unfinished request has no use once the extract stopped."""
        self._worker.stop()
        self._in_step = False

    def _send(self, kind: str, fields: dict[str, Any]) -> None:
        try:
            self._worker.send(kind, fields)
        except WorkerDied as exc:
            raise XmattersError(str(exc)) from None

    def _receive(self) -> Frame:
        try:
            return self._worker.receive()
        except WorkerDied as exc:
            raise XmattersError(str(exc)) from None


# The errors the child may send, by class name: re-raised as these classes, never unpickled.
ERROR_CLASSES: dict[str, type[BaseException]] = {"RuntimeError": RuntimeError} | {
    cls.__name__: cls
    for cls in (
        XmattersError,
        ConfigError,
        AuthError,
        NotFoundError,
        UnavailableError,
        ProtocolError,
        RuntimeError,
    )
}
