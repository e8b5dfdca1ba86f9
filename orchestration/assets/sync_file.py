"""`c1_sync`: publishes the audited tables to `c1` and writes the `.c1z` (the "publish" of WAP).

Runs only when every blocking check upstream passed (Dagster skips it otherwise), so a bad sync never
reaches C1 or the warehouse's consumers. Order, so a failure at any point loses nothing:
1. write the new `.c1z` beside the target (`<file>.pending`, itself written atomically), while the
   `c1` tables are copied from staging in a DuckDB transaction that stays open
   (`orchestration/publish.py`);
2. commit that transaction (or roll it back if the write failed);
3. rename the pending file over the target.
A crash between 2 and 3 leaves the previous `.c1z` and already-published tables; the next run
rewrites both. A stale pending file from a killed run is removed first.
"""

import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import orjson
import pyarrow as pa

from orchestration import interrupts, run_tags
from orchestration import metadata_keys as keys
from orchestration.assets.c1_tables import RAW, STAGING, STAGING_TABLES, raw_key, staging_key
from orchestration.audit_gate import UnauditedTablesError, built_before_extract, unaudited
from orchestration.c1_limits_sql import LIMITED_COLUMNS, c1z_select, install_macros, shortened_query
from orchestration.checks.per_table import table_checks
from orchestration.key_ranges import ALL, key_ranges, range_condition
from orchestration.preflight import check_sync_file
from orchestration.publish import PUBLISHED_TABLES, StagedPublish
from orchestration.resources import ExpectationsResource, SyncSettings, WarehouseResource, XmattersResource
from orchestration.shortened import (
    NAME_CHARS,
    SHORTENED_EXAMPLES,
    abbreviate,
    left_out_lines,
    shortened_lines,
)
from orchestration.stopped_run import Stop, kept, reported_if_stopped
from orchestration.table_schema import column_schema
from pipelines.c1z.email import c1_email
from pipelines.c1z.rows import EntitlementRow, GrantColumns, GroupRow, UserRow
from pipelines.c1z.sync_ids import new_ksuid
from pipelines.c1z.text import without_nul
from pipelines.c1z.writer import write_c1z

log = logging.getLogger("baton_xmatters")

BATCH_ROWS = 50_000  # grants: Arrow batches the writer collects as columns
# users, groups and entitlements become Python rows a batch at a time: 50,000 users' 13 columns as
# lists held ~120 MB at scale L; 8,192 hold a sixth of that, at the same speed
ROW_BATCH_ROWS = 8_192
# a user row's size for `key_ranges`: its text, the profile first (what a long name makes long)
USER_ROW_BYTES = (
    "strlen(user_id) + coalesce(strlen(display_name), 0) + coalesce(strlen(login), 0) "
    "+ coalesce(strlen(profile::VARCHAR), 0) + coalesce(strlen(login_aliases::VARCHAR), 0) "
    "+ coalesce(strlen(emails::VARCHAR), 0) + 100"
)

# a group row's size, as USER_ROW_BYTES
GROUP_ROW_BYTES = (
    "strlen(group_id) + coalesce(strlen(display_name), 0) + coalesce(strlen(description), 0) "
    "+ coalesce(strlen(profile::VARCHAR), 0) + 100"
)

_STAGED = [staging_key(t) for t in PUBLISHED_TABLES]
_CHECK_SPECS = [spec for checks in table_checks for spec in checks.check_specs]
# the raw assets the staged tables are built from
_EXTRACT = sorted(
    {key for upstream, _ in STAGING_TABLES.values() for key in upstream if key.path[0] == RAW},
    key=lambda key: key.to_user_string(),
)


@dg.asset(
    key=keys.SYNC_FILE_ASSET,
    deps=_STAGED,
    group_name="c1",
    kinds={"duckdb", "file"},
    description="The published sync: the `c1` tables and the `.c1z` file C1 ingests, replaced together "
    "only after every blocking check passed.",
)
def c1_sync(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    sync_settings: SyncSettings,
    xmatters: XmattersResource,
    expectations: ExpectationsResource,
) -> dg.MaterializeResult:
    with reported_if_stopped(context, sync_settings.sync_file) as stop:
        return _publish(context, warehouse, sync_settings, xmatters, expectations, stop)


def _publish(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    sync_settings: SyncSettings,
    xmatters: XmattersResource,
    expectations: ExpectationsResource,
    stop: Stop,
) -> dg.MaterializeResult:
    """`c1_sync`'s body; `stop` records the sync once it is in place, for a Terminate after it."""
    expectations.checks_done()  # the checks upstream have run; the write below is the memory peak
    # also when this run did not check the staged tables itself (c1_sync materialized alone)
    problems = unaudited(context.instance, _CHECK_SPECS, _STAGED) or built_before_extract(
        context.instance, _STAGED, _EXTRACT
    )
    if problems:
        raise UnauditedTablesError(problems)
    target = Path(sync_settings.sync_file)
    # a UI run's BATON_FILE too: never rename the .c1z over a device, a pipe, another file, the warehouse
    check_sync_file(target, Path(warehouse.database).resolve())
    pending = target.with_name(target.name + ".pending")
    pending.unlink(missing_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    started = extract_started_at(context)
    sync_id = new_ksuid(started)
    # Once the commit begins, an interrupt waits for it and the rename (orchestration/interrupts.py).
    with ExitStack() as commit_and_rename:
        with warehouse.connect() as con, StagedPublish(con, STAGING, sync_id) as publish:
            install_macros(con)
            shortened = _shortened(con)
            for line in shortened_lines(shortened):
                context.log.warning(line)
                log.warning("write: %s", line)
            grantable_to = ("user", "group") if sync_settings.expand_nested_groups else ("user",)
            emails_left_out: list[dict[str, str]] = []
            log.info("write: encoding %s", target)
            try:
                result = write_c1z(
                    pending,
                    users=_users(con, emails_left_out),
                    groups=_groups(con),
                    entitlements=_entitlements(con, grantable_to),
                    grants=_grants(con),
                    started_at=started,
                    sync_id=sync_id,
                )
            except (OSError, sqlite3.OperationalError) as exc:
                raise SyncFileWriteError(target, exc) from None
            log.info(
                "write: %s",
                ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in result.timings.items()),
            )
            for line in left_out_lines(emails_left_out):
                context.log.warning(line)
                log.warning("write: %s", line)
            commit_and_rename.enter_context(interrupts.publishing())
            try:
                log.info("publish: replacing the c1 tables")
                publish.commit(
                    started,
                    result.counts,
                    run_tags.recorded_sync_file(context.run.tags, str(target)),
                    result.bytes,
                    xmatters.source(),
                    expand_nested_groups=sync_settings.expand_nested_groups,
                )
            except BaseException:
                pending.unlink(missing_ok=True)
                raise
        os.replace(pending, target)
        stop.published = f"sync {result.sync_id}"
        interrupts.note_published(kept(str(target), stop.published))  # a Ctrl-C from now on says so
    log.info("publish: wrote %s (%d bytes, sync %s)", target, result.bytes, result.sync_id)
    with warehouse.connect() as con:
        published_columns = {
            f"c1.{table} columns": dg.MetadataValue.table_schema(column_schema(con, "c1", table))
            for table in PUBLISHED_TABLES
        }
    return dg.MaterializeResult(
        metadata={
            **published_columns,
            keys.PATH: dg.MetadataValue.path(str(target)),
            keys.BYTES: dg.MetadataValue.int(result.bytes),
            keys.SYNC_ID: dg.MetadataValue.text(result.sync_id),
            "source": dg.MetadataValue.text(str(xmatters.source())),
            "started_at": dg.MetadataValue.timestamp(started),
            **{name: dg.MetadataValue.int(count) for name, count in result.counts.items()},
            keys.SHORTENED: dg.MetadataValue.int(len(shortened)),
            keys.SHORTENED_OBJECTS: dg.MetadataValue.json(shortened[:SHORTENED_EXAMPLES]),
            keys.EMAILS_LEFT_OUT: dg.MetadataValue.int(len(emails_left_out)),
            keys.EMAILS_LEFT_OUT_EXAMPLES: dg.MetadataValue.json(emails_left_out[:SHORTENED_EXAMPLES]),
        }
    )


class SyncFileWriteError(Exception):
    """The new `.c1z` could not be written (disk full, read-only, quota): one line naming the path.

    The writer's own message ("database or disk is full") names neither the file nor the
    directory, and the user has to know which disk to free or which flag to change.
    """

    def __init__(self, target: Path, cause: BaseException) -> None:
        if isinstance(cause, OSError):
            reason = cause.strerror or str(cause)
        elif getattr(cause, "sqlite_errorname", "") == "SQLITE_FULL":
            reason = "No space left on device (database or disk is full)"
        else:
            reason = str(cause)
        super().__init__(
            f"cannot write the sync file {target} (directory {target.parent}): {reason}; "
            "the previous file and the published tables are unchanged"
        )


def _rows(
    con: duckdb.DuckDBPyConnection, query: str, params: dict[str, Any] | None = None
) -> Iterator[tuple[Any, ...]]:
    """Streams a query as tuples (groups, entitlements), Arrow batches converted column by column:
    three times cheaper than row dicts.
    """
    for batch in _batches(con, query, ROW_BATCH_ROWS, params):
        yield from zip(*(column.to_pylist() for column in batch.columns), strict=True)


def _json(text: str | None) -> dict[str, Any] | None:
    """A profile as the `.c1z` gets it: without NUL in its keys and texts (`pipelines/c1z/text.py`)."""
    if not text:
        return None
    return orjson.loads(text) if _JSON_NUL not in text else _without_nul(orjson.loads(text))


# how DuckDB's JSON writes U+0000; a profile without it (nearly all) is loaded as it is
_JSON_NUL = "\\u0000"


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return without_nul(value)
    if isinstance(value, dict):
        return {without_nul(key): _without_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    return value


def _c1_emails(
    user_id: str, emails: list[dict[str, Any]], left_out: list[dict[str, str]]
) -> tuple[tuple[str, bool], ...]:
    """The addresses as C1's email rule accepts them, each once; those it refuses go to `left_out`.

    Two EMAIL devices of one person may hold the same address (or `zoë@exämple.net` and its IDNA
    form): the trait lists it once, as its first device in `emails`' order (the primary first).
    """
    kept: dict[str, bool] = {}
    for email in emails:
        address = c1_email(email["address"])
        if address is None:
            left_out.append({"user_id": user_id, "address": email["address"]})
        elif address not in kept:
            kept[address] = email["is_primary"]
    return tuple(kept.items())


# the query's columns are UserRow's fields, in its order
_USER_COLUMNS = [
    *("user_id", "display_name", "status", "status_details", "login", "given_name", "family_name"),
    # profile::VARCHAR: DuckDB's JSON type converts to Arrow several times slower than text
    "profile::VARCHAR",
    "CASE WHEN len(emails) > 0 THEN emails END",
    *("epoch_us(created_at)", "epoch_us(last_login)"),
    *("coalesce(login_aliases, [])", "coalesce(employee_ids, [])"),
]
_USER_ID, _PROFILE, _EMAILS = (UserRow._fields.index(name) for name in ("user_id", "profile", "emails"))


def _users(con: duckdb.DuckDBPyConnection, left_out: list[dict[str, str]]) -> Iterator[UserRow]:
    """The users as the `.c1z` gets them; email addresses C1 would refuse are added to `left_out`.

    DuckDB shapes each column as the encoder takes it, so Python touches as few objects as it can:
    timestamps as epoch microseconds (ints: no datetime is built), emails NULL where there are none
    (an empty list of structs costs more to convert than a NULL), lists never NULL. Rows are built
    a column batch at a time (`UserRow._make` over zipped columns), not field by field.

    In id order when the users fit in one range of `MAX_SORTED_BYTES` (every ordinary tenant).
    Wider ones are read in the table's own order, in ranges of row ids of that size (`key_ranges`):
    DuckDB cannot spill a sort of rows of long names, and ranges of user ids read every vector of
    the (unsorted) table once per range (5 KB names: 39 ranges, 10 s); ranges of row ids are pushed
    into the scan, one pass. The writer takes users in any order (it numbers them sorted itself).
    """
    loads = orjson.loads
    nul = _JSON_NUL
    make = UserRow._make
    ranges = key_ranges(con, f"{STAGING}.users", "rowid", USER_ROW_BYTES)
    for part in ranges:
        if part == ALL:
            query, params = c1z_select("users", _USER_COLUMNS, order_by="user_id"), None
        else:
            query, params = c1z_select("users", _USER_COLUMNS, where=range_condition("rowid")), part.params()
        for batch in _batches(con, query, ROW_BATCH_ROWS, params):
            columns = [column.to_pylist() for column in batch.columns]
            ids, emails, profiles = columns[_USER_ID], columns[_EMAILS], columns[_PROFILE]
            columns[_PROFILE] = [
                (loads(text) if nul not in text else _json(text)) if text else None for text in profiles
            ]
            columns[_EMAILS] = [
                _c1_emails(uid, listed, left_out) if listed else ()
                for uid, listed in zip(ids, emails, strict=True)
            ]
            yield from map(make, zip(*columns, strict=True))


def _groups(con: duckdb.DuckDBPyConnection) -> Iterator[GroupRow]:
    """In id order when the groups fit in one range of `MAX_SORTED_BYTES` (every ordinary tenant);
    wider ones in ranges of row ids, each in id order, as `_users` reads users (5,000 groups of
    20 KB names: a sort of their whole rows cannot spill). The writer takes groups in any order."""
    columns = ["group_id", "display_name", "description", "profile::VARCHAR"]
    for part in key_ranges(con, f"{STAGING}.groups", "rowid", GROUP_ROW_BYTES):
        where, params = ("", None) if part == ALL else (range_condition("rowid"), part.params())
        query = c1z_select("groups", columns, order_by="1", where=where)
        for group_id, name, description, profile in _rows(con, query, params):
            yield GroupRow(group_id, display_name=name, description=description, profile=_json(profile))


def _entitlements(con: duckdb.DuckDBPyConnection, grantable_to: tuple[str, ...]) -> Iterator[EntitlementRow]:
    """With nested groups expanded, a `member` entitlement is also granted to (child) groups."""
    query = c1z_select("entitlements", ["group_id", "display_name", "description"], order_by="group_id")
    for group_id, name, description in _rows(con, query):
        yield EntitlementRow(group_id, name, description, grantable_to)


def _shortened(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every user, group and entitlement whose text the `.c1z` gets shortened (the warehouse keeps it)."""
    query = " UNION ALL ".join(shortened_query(table) for table in LIMITED_COLUMNS)
    order = "CASE object_type WHEN 'group' THEN 0 WHEN 'user' THEN 1 ELSE 2 END, id"
    # only the head of a name that `abbreviate` shows is sorted and fetched: 10,000 groups and
    # entitlements of 20 KB names were a sort DuckDB could not spill, and 200 MB of Python strings
    head = f"left(display_name, {NAME_CHARS + 1})"
    rows = con.sql(f"SELECT object_type, id, {head}, columns FROM ({query}) ORDER BY {order}").fetchall()
    return [
        {"type": kind, "id": the_id, "name": abbreviate(name), "columns": columns}
        for kind, the_id, name, columns in rows
    ]


def extract_started_at(context: dg.AssetExecutionContext) -> datetime:
    """When the extract whose tables are published began (C1 reads it as the sync's start).

    The raw assets record it (`extract_started_at`); a run that publishes tables extracted by an
    earlier run finds it on their latest materialization. Without one (never extracted): now.
    """
    event = context.instance.get_latest_materialization_event(raw_key("groups"))
    materialization = event.asset_materialization if event is not None else None
    value = materialization.metadata.get(keys.EXTRACT_STARTED_AT) if materialization is not None else None
    if value is not None and isinstance(value.value, float):
        return datetime.fromtimestamp(value.value, UTC)
    return datetime.now(UTC)


def _grants(con: duckdb.DuckDBPyConnection) -> GrantColumns:
    """As Arrow batches: the writer collects a million grants as columns, not as tuples."""
    query = f"SELECT group_id, principal_type, principal_id, expandable FROM {STAGING}.grants"
    return GrantColumns(_batches(con, query))


def _batches(
    con: duckdb.DuckDBPyConnection,
    query: str,
    batch_rows: int = BATCH_ROWS,
    params: dict[str, Any] | None = None,
) -> Iterator[pa.RecordBatch]:
    """Streams a query as Arrow batches on its own cursor, so several generators never collide."""
    cursor = con.cursor()
    try:
        install_macros(cursor)  # temporary macros belong to one connection, and a cursor is another
        yield from cursor.sql(query, params=params).to_arrow_reader(batch_rows)
    finally:
        cursor.close()
