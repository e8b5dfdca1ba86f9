"""The `xmatters` dlt source: people, groups and group memberships as Arrow tables.

Build it with a validated `XmattersConfig` (CLI flags / BATON_* env) or with none to read dlt's own
config (`[sources.xmatters]` in `.dlt/*.toml`, `SOURCES__XMATTERS__*`). Building makes no request,
so a placeholder config is fine at import time (Dagster definitions); pass the real one at run time.
Pass an `ExtractReport` to read afterwards what the extract did (counts, retries, skipped groups).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import dlt
import pyarrow as pa
from dlt.extract.resource import DltResource

from pipelines.xmatters import settings
from pipelines.xmatters.client import XmattersClient
from pipelines.xmatters.config import XmattersConfig
from pipelines.xmatters.early_members import EarlyMembers
from pipelines.xmatters.member_calls import MemberProcess, member_tables
from pipelines.xmatters.people_pages import people_tables
from pipelines.xmatters.report import ExtractReport, SkippedGroup
from pipelines.xmatters.tables import (
    at_least_one_table,
    email_device_row,
    group_row,
    tables_from_pages,
)

__all__ = ["ExtractReport", "XmattersConfig", "xmatters_source"]

logger = logging.getLogger(__name__)


_DLT_TYPES = {pa.bool_(): "bool", pa.int64(): "bigint"}


def _column_hints(schema: pa.Schema) -> dict[str, dict[str, str | bool]]:
    """dlt column hints from the Arrow schema, so tables are typed even before their first row."""
    return {f.name: {"data_type": _DLT_TYPES.get(f.type, "text"), "nullable": f.nullable} for f in schema}


def _hints(raw: settings.RawTable) -> dict[str, Any]:
    """The dlt resource's name, key and columns: from its raw table, replaced by every extract."""
    return {
        "name": raw.name,
        "write_disposition": "replace",
        "primary_key": raw.primary_key,
        "columns": _column_hints(raw.schema),
    }


def _loaded(raw: settings.RawTable, tables: Iterable[pa.Table], report: ExtractReport) -> Iterator[pa.Table]:
    """`tables` (one empty table when none, so the raw table exists), their rows counted in `report`,
    joined into tables of at least `settings.LOAD_BATCH_ROWS` rows (`joined_tables`)."""
    for table in joined_tables(at_least_one_table(tables, raw.schema), settings.LOAD_BATCH_ROWS):
        report.count_rows(raw.name, table.num_rows)
        report.note_widest(raw.name, table)
        yield table


def joined_tables(
    tables: Iterable[pa.Table], rows: int, max_bytes: int = settings.LOAD_BATCH_BYTES
) -> Iterator[pa.Table]:
    """`tables` in order, consecutive ones joined (without a copy) until they hold `rows` rows or
    `max_bytes` bytes (rows of huge names: DuckDB loads each as one row group, within its memory).

    Why: dlt handles each table it is given on its own: a table schema computed and validated, and
    a Parquet row group written, whose dictionaries and pages serve only that table. Tables of
    65,536 rows instead of 16,384 (the batches of the pages and of the member calls) cost less CPU
    to write and to load. Not larger: from row groups near DuckDB's own (122,880 rows) its insert
    leaves part of the rows to compress at the next checkpoint, the sync's exit (docs/benchmarks.md,
    thirteenth round).
    """
    held: list[pa.Table] = []
    held_rows = held_bytes = 0
    for table in tables:
        held.append(table)
        held_rows += table.num_rows
        held_bytes += table.nbytes
        if held_rows >= rows or held_bytes >= max_bytes:
            yield held[0] if len(held) == 1 else pa.concat_tables(held)
            held, held_rows, held_bytes = [], 0, 0
    if held:
        yield held[0] if len(held) == 1 else pa.concat_tables(held)


@dlt.source(name=settings.SOURCE_NAME, max_table_nesting=0)
def xmatters_source(
    config: XmattersConfig | None = None,
    report: ExtractReport | None = None,
    sync_emails: bool = False,
    member_process: MemberProcess | None = None,
    early_members: EarlyMembers | None = None,
) -> Sequence[DltResource]:
    """People, groups and memberships of one xMatters instance, replaced as one snapshot per run.

    `sync_emails` also reads EMAIL devices (opt-in: the C1 connector reads no device data). With a
    started `member_process`, the member calls run in that child process (on the other core) instead
    of on threads of this one. With `early_members` (the CLI's, started before the run), its process
    and its `/groups` listing are the ones used.
    """
    if config is None:
        config = XmattersConfig.from_dlt()
    client = XmattersClient(config, report)
    offered: OfferedGroups | None = None
    if early_members is not None:
        offered = OfferedGroups(early_members.process, early_members)
    elif member_process is not None:
        offered = OfferedGroups(member_process)
    groups_resource = groups(client, offered)
    # dlt reads resources round-robin in this order, and a resource yields once per 16,384 rows:
    # groups first, so the member calls (most of the requests) start at once and `people` is read
    # (on a dlt worker thread) while they are in flight, instead of before them.
    return (
        groups_resource,
        groups_resource | group_members(client, offered),
        people(client),
        email_devices(client, sync_emails),
    )


@dlt.resource(**_hints(settings.PEOPLE), parallelized=True)
def people(client: XmattersClient) -> Iterator[pa.Table]:
    """Every person `/people` returns to this account (its permission scope).

    Read on a dlt worker thread beside the member calls; if it fails it cancels them, so the sync
    fails now with this error instead of after the member calls (`group_members` steps aside).
    """
    try:
        pages = people_tables(client.people_pages())
        yield from _loaded(settings.PEOPLE, pages, client.report)
    except BaseException:
        client.cancel()
        raise


class OfferedGroups:
    """The groups of one `/groups` listing, handed to the member-call process page by page.

    Why: at 20 ms a request, listing 10,000 groups and building their table took 0.1-0.4 s during
    which no member call ran (`docs/benchmarks.md`, tenth round). Each page's groups go to the
    child as the page arrives, so the first page's calls run while the rest is listed; the
    `group_members` transformer then reads the answer (its own groups table is the same groups).
    """

    def __init__(self, member_process: MemberProcess, early: EarlyMembers | None = None) -> None:
        self.process = member_process
        self.early = early  # listed and offered already, before the run (early_members.py)
        self._taken = False

    def pages(self, client: XmattersClient) -> Iterator[list[dict[str, Any]]]:
        """The listing's pages, each offered to the child as it arrives; the end of the listing
        closes the offer. An early listing's pages were offered as they arrived: read as they are."""
        if self.early is not None:
            yield from self.early.pages(client)
            return
        yield from self.process.offer_pages(client.group_pages())

    def member_tables(self, client: XmattersClient) -> Iterable[pa.Table | SkippedGroup]:
        """The answer to every offered group, for the first groups table; nothing for the others
        (a listing of more than one table: their groups were offered with the first)."""
        if self._taken:
            return ()
        self._taken = True
        return self.process.offered_tables(client)


@dlt.resource(**_hints(settings.GROUPS))
def groups(client: XmattersClient, offered: OfferedGroups | None) -> Iterator[pa.Table]:
    """Every group of `/groups`; also the parent that drives `group_members`.

    Without a member-call process, the member calls start when this yields. With one (`offered`),
    each page's groups go to it as the page arrives, and this yields only after the whole
    listing: `group_members` waits for the child's answer, which needs every group offered first.
    """
    if offered is None:
        tables: Iterable[pa.Table] = tables_from_pages(
            client.group_pages(), group_row, settings.GROUPS_SCHEMA
        )
    else:
        tables = list(tables_from_pages(offered.pages(client), group_row, settings.GROUPS_SCHEMA))
    yield from _loaded(settings.GROUPS, tables, client.report)


@dlt.resource(**_hints(settings.EMAIL_DEVICES))
def email_devices(client: XmattersClient, enabled: bool) -> Iterator[pa.Table]:
    """People's EMAIL devices (`/devices?deviceType=EMAIL`), only when asked: no request otherwise.

    Not asked, the table is still replaced, empty: the raw layer always has all its tables.
    """
    schema = settings.EMAIL_DEVICES_SCHEMA
    pages = tables_from_pages(client.email_device_pages(), email_device_row, schema) if enabled else ()
    yield from _loaded(settings.EMAIL_DEVICES, pages, client.report)


@dlt.transformer(**_hints(settings.GROUP_MEMBERS))
def group_members(
    groups_table: pa.Table, client: XmattersClient, offered: OfferedGroups | None
) -> Iterator[pa.Table]:
    """One members call per listed group, `config.concurrency` at a time (in the member-call process
    when the groups were `offered` to it, else on threads here).

    A 404 means the group was deleted after `/groups` listed it: the group row stays, it gets no
    memberships, and the report records it; every other error fails the extract.
    """
    calls: Iterable[pa.Table | SkippedGroup]
    if offered is not None:
        calls = offered.member_tables(client)
    else:
        listed = zip(
            groups_table.column("id").to_pylist(),
            groups_table.column("target_name").to_pylist(),
            strict=True,
        )
        calls = member_tables(client, listed)
    try:
        yield from _loaded(settings.GROUP_MEMBERS, _member_tables(calls, client), client.report)
    except BaseException:
        client.cancel()  # `people` stops too instead of retrying for a run that already failed
        raise


def _member_tables(calls: Iterable[pa.Table | SkippedGroup], client: XmattersClient) -> Iterator[pa.Table]:
    """The member tables of `calls`; a group deleted during the sync is logged and reported."""
    for item in calls:
        if isinstance(item, SkippedGroup):
            logger.warning("%s", item.warning())  # server text, scrubbed there
            client.report.skip_group(item)
            # rows handed on before the group went are removed once loaded (`loader`)
            client.report.count_rows(settings.GROUP_MEMBERS.name, -item.rows_sent)
            continue
        yield item
