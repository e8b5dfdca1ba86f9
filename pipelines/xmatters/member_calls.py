"""The member calls of a list of groups, `concurrency` at a time, as Arrow tables and skipped groups.

One call per group (the API has no bulk membership endpoint), on a thread pool; pages are decoded
by the calling thread and batched into Arrow tables (`MembersBatcher`). Used in the sync's own
process (`source.group_members`) and in the member-call process (`member_worker.py`), which puts
this work on the machine's other core.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import Any

import pyarrow as pa

from pipelines.xmatters.client import XmattersClient
from pipelines.xmatters.errors import NotFoundError
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
