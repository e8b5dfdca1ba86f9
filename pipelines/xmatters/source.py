"""The `xmatters` dlt source: people, groups and group memberships as Arrow tables.

Build it with a validated `XmattersConfig` (CLI flags / BATON_* env) or with none to read dlt's own
config (`[sources.xmatters]` in `.dlt/*.toml`, `SOURCES__XMATTERS__*`). Building makes no request,
so a placeholder config is fine at import time (Dagster definitions); pass the real one at run time.
Pass an `ExtractReport` to read afterwards what the extract did (counts, retries, skipped groups).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence

import dlt
import pyarrow as pa
from dlt.extract.resource import DltResource

from pipelines.xmatters import settings
from pipelines.xmatters.client import XmattersClient
from pipelines.xmatters.config import XmattersConfig, config_from_dlt
from pipelines.xmatters.member_calls import member_tables
from pipelines.xmatters.member_process import MemberProcess
from pipelines.xmatters.report import ExtractReport, SkippedGroup
from pipelines.xmatters.scrub import scrub
from pipelines.xmatters.tables import (
    at_least_one_table,
    email_device_row,
    group_row,
    person_row,
    tables_from_pages,
)

__all__ = ["ExtractReport", "XmattersConfig", "xmatters_source"]

logger = logging.getLogger(__name__)


_DLT_TYPES = {pa.bool_(): "bool", pa.int64(): "bigint"}


def _column_hints(schema: pa.Schema) -> dict[str, dict[str, str | bool]]:
    """dlt column hints from the Arrow schema, so tables are typed even before their first row."""
    return {f.name: {"data_type": _DLT_TYPES.get(f.type, "text"), "nullable": f.nullable} for f in schema}


@dlt.source(name=settings.SOURCE_NAME, max_table_nesting=0)
def xmatters_source(
    config: XmattersConfig | None = None,
    report: ExtractReport | None = None,
    sync_emails: bool = False,
    member_process: MemberProcess | None = None,
) -> Sequence[DltResource]:
    """People, groups and memberships of one xMatters instance, replaced as one snapshot per run.

    `sync_emails` also reads EMAIL devices (opt-in: the C1 connector reads no device data). With a
    started `member_process`, the member calls run in that child process (on the other core) instead
    of on threads of this one.
    """
    if config is None:
        config = config_from_dlt()
    client = XmattersClient(config, report)
    groups_resource = groups(client)
    # dlt reads resources round-robin in this order, and a resource yields once per 50,000 rows:
    # groups first, so the member calls (most of the requests) start at once and `people` is read
    # (on a dlt worker thread) while they are in flight, instead of before them.
    return (
        groups_resource,
        groups_resource | group_members(client, member_process),
        people(client),
        email_devices(client, sync_emails),
    )


@dlt.resource(
    name="people",
    parallelized=True,
    write_disposition="replace",
    primary_key=settings.PEOPLE_PRIMARY_KEY,
    columns=_column_hints(settings.PEOPLE_SCHEMA),
)
def people(client: XmattersClient) -> Iterator[pa.Table]:
    """Every person `/people` returns to this account (its permission scope).

    Read on a dlt worker thread beside the member calls; if it fails it cancels them, so the sync
    fails now with this error instead of after the member calls (`group_members` steps aside).
    """
    try:
        pages = tables_from_pages(client.people_pages(), person_row, settings.PEOPLE_SCHEMA)
        for table in at_least_one_table(pages, settings.PEOPLE_SCHEMA):
            client.report.people += table.num_rows
            yield table
    except BaseException:
        client.cancel()
        raise


@dlt.resource(
    name="groups",
    write_disposition="replace",
    primary_key=settings.GROUPS_PRIMARY_KEY,
    columns=_column_hints(settings.GROUPS_SCHEMA),
)
def groups(client: XmattersClient) -> Iterator[pa.Table]:
    """Every group of `/groups`; also the parent that drives `group_members`.

    The member calls start when this yields.
    """
    pages = tables_from_pages(client.group_pages(), group_row, settings.GROUPS_SCHEMA)
    for table in at_least_one_table(pages, settings.GROUPS_SCHEMA):
        client.report.groups += table.num_rows
        yield table


@dlt.resource(
    name="email_devices",
    write_disposition="replace",
    primary_key=settings.EMAIL_DEVICES_PRIMARY_KEY,
    columns=_column_hints(settings.EMAIL_DEVICES_SCHEMA),
)
def email_devices(client: XmattersClient, enabled: bool) -> Iterator[pa.Table]:
    """People's EMAIL devices (`/devices?deviceType=EMAIL`), only when asked: no request otherwise.

    Not asked, the table is still replaced, empty: the raw layer always has all its tables.
    """
    schema = settings.EMAIL_DEVICES_SCHEMA
    pages = tables_from_pages(client.email_device_pages(), email_device_row, schema) if enabled else ()
    for table in at_least_one_table(pages, schema):
        client.report.email_devices += table.num_rows
        yield table


@dlt.transformer(
    name="group_members",
    write_disposition="replace",
    primary_key=settings.GROUP_MEMBERS_PRIMARY_KEY,
    columns=_column_hints(settings.GROUP_MEMBERS_SCHEMA),
)
def group_members(
    groups_table: pa.Table, client: XmattersClient, member_process: MemberProcess | None
) -> Iterator[pa.Table]:
    """One members call per listed group, `config.concurrency` at a time (in `member_process` if given).

    A 404 means the group was deleted after `/groups` listed it: the group row stays, it gets no
    memberships, and the report records it; every other error fails the extract.
    """
    listed = zip(
        groups_table.column("id").to_pylist(), groups_table.column("target_name").to_pylist(), strict=True
    )
    calls = member_process.member_tables(client, listed) if member_process else member_tables(client, listed)
    try:
        for table in at_least_one_table(_member_tables(calls, client), settings.GROUP_MEMBERS_SCHEMA):
            client.report.group_members += table.num_rows
            yield table
    except BaseException:
        client.cancel()  # `people` stops too instead of retrying for a run that already failed
        raise


def _member_tables(calls: Iterable[pa.Table | SkippedGroup], client: XmattersClient) -> Iterator[pa.Table]:
    """The member tables of `calls`; a group deleted during the sync is logged and reported."""
    for item in calls:
        if isinstance(item, SkippedGroup):
            logger.warning(  # ids and names are server text: scrubbed (scrub.py)
                "group %s (%s) was deleted during the sync; kept without members: %s",
                scrub(item.group_id),
                scrub(str(item.name)),
                scrub(item.reason),
            )
            client.report.skip_group(*item)
            continue
        yield item
