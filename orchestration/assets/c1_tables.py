"""The `c1_staging` tables: xMatters mapped to C1 users, groups, entitlements, grants, memberships.

Each asset runs one SQL file (`orchestration/sql/<table>.sql`) set-based in DuckDB. These are the
"write" of write-audit-publish: checks audit them, and only `c1_sync` publishes them to `c1`.
"""

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import dagster as dg

from orchestration import metadata_keys as keys
from orchestration import sql
from orchestration.c1_limits_sql import install_macros
from orchestration.markdown import markdown_table
from orchestration.resources import SyncSettings, WarehouseResource
from orchestration.staged_ranges import stage_in_ranges, text_bytes
from orchestration.staged_users import stage_users
from orchestration.stopped_run import reported_if_stopped
from orchestration.table_schema import column_schema, table_exists

log = logging.getLogger("baton_xmatters")

STAGING = "c1_staging"
RAW = "xmatters_raw"


def staging_key(table: str) -> dg.AssetKey:
    return dg.AssetKey([STAGING, table])


def raw_key(table: str) -> dg.AssetKey:
    return dg.AssetKey([RAW, table])


# table -> (upstream assets, description); listed in dependency order
STAGING_TABLES: dict[str, tuple[list[dg.AssetKey], str]] = {
    "user_emails": (
        [raw_key("email_devices")],
        "People's EMAIL device addresses, the primary flagged (empty unless --sync-emails).",
    ),
    "users": (
        [raw_key("people"), raw_key("group_members"), staging_key("user_emails")],
        "C1 users: every person, ACTIVE -> ENABLED, INACTIVE -> DISABLED, plus PERSON members `/people` "
        "did not return (status UNSPECIFIED, `visible` false) so their grants are not lost.",
    ),
    "groups": ([raw_key("groups")], "C1 groups: every xMatters group."),
    "entitlements": ([staging_key("groups")], "One `member` entitlement per group: `group:<id>:member`."),
    "memberships": (
        [raw_key("group_members"), staging_key("groups")],
        "Every member row, all four types (PERSON, GROUP, DEVICE, DYNAMIC_TEAM), with `is_grant`.",
    ),
    "grants": (
        [staging_key("memberships"), staging_key("groups")],
        "One grant per PERSON member (`group:<gid>:member:user:<pid>`); nested groups only when expanded.",
    ),
}


def _build_staging_asset(table: str, deps: Sequence[dg.AssetKey], description: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=staging_key(table),
        deps=deps,
        description=description,
        group_name="c1",
        kinds={"duckdb"},
    )
    def _asset(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, sync_settings: SyncSettings
    ) -> dg.MaterializeResult:
        with reported_if_stopped(context, sync_settings.sync_file), warehouse.connect() as con:
            _require_upstream(con, table, deps, warehouse.database)
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {STAGING}")
            install_macros(con)  # c1_text: blank text counts as missing
            with stored_uncompressed(con):
                if table == "users":
                    stage_users(con)  # in ranges of raw rows: its profiles' JSON
                elif table in _RANGED:  # in ranges of rows too: the groups' profiles, both sorts
                    stage_in_ranges(con, table, *_RANGED[table])
                else:
                    con.execute(*_statement(con, table, sync_settings))
            rows = _count(con, f"{STAGING}.{table}")
            preview = markdown_table(con.sql(f"SELECT * FROM {STAGING}.{table} LIMIT 5"))
            extra = _extra_metadata(con, table)
            columns = column_schema(con, STAGING, table)
        log.info("transform: %s.%s has %d rows", STAGING, table, rows)
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": dg.MetadataValue.int(rows),
                "dagster/column_schema": dg.MetadataValue.table_schema(columns),
                "preview": dg.MetadataValue.md(preview),
                **extra,
            }
        )

    return _asset


@contextmanager
def stored_uncompressed(con: Any) -> Iterator[None]:
    """The row groups DuckDB writes while the statements inside run are stored uncompressed.

    A staging table is rebuilt by every sync and read a few times in it (the checks, the `.c1z`
    write, the publish copy), so compressing it does not pay: DuckDB's string compression
    (DICT_FSST) of `grants` and `memberships` was ~0.15 s of a ~0.6 s transform stage at M
    (docs/benchmarks.md, fifteenth round). Only whole row groups are written during a statement;
    a small table goes through the WAL and is compressed at the next checkpoint as before, and the
    published `c1` copies and the history stay compressed. Costs file space while the staging
    tables exist (M: 91 -> 151 MB). `force_compression` is a setting of the database instance, so it
    is set back before anything else writes (a run's steps run one after the other).
    """
    con.execute("SET GLOBAL force_compression = 'uncompressed'")
    try:
        yield
    finally:
        con.execute("RESET GLOBAL force_compression")


# tables built in ranges of their source's rows (`stage_in_ranges`): source, row bytes, what they are
_RANGED = {
    "groups": (
        f"{RAW}.groups",
        text_bytes("target_name description site__name site__id"),
        "xmatters_raw.groups: target_name, description, site__name, site__id",
    ),
    "entitlements": (
        f"{STAGING}.groups",
        text_bytes("group_id display_name"),
        "c1_staging.groups: group_id, display_name",
    ),
}


def _statement(con: Any, table: str, settings: SyncSettings) -> tuple[str, dict[str, Any] | None]:
    """The SQL of a table and the settings it takes as named parameters."""
    if table == "memberships":
        return sql.load(table), {"expand_nested_groups": settings.expand_nested_groups}
    if table == "user_emails":
        if not table_exists(con, RAW, "email_devices"):
            return sql.load("user_emails_empty"), None
        return sql.load(table), {"sync_emails": settings.sync_emails}
    return sql.load(table), None


class MissingUpstreamError(Exception):
    """A staged table materialized alone before the tables it reads exist: one line saying what to run."""


def _require_upstream(con: Any, table: str, deps: Sequence[dg.AssetKey], database: str) -> None:
    """Names the upstream tables not in the warehouse yet (its asset page's "Materialize" on a new
    home); DuckDB's own error was a multi-line Catalog Error quoting the SQL. `email_devices` is
    optional (only with --sync-emails): `user_emails` is then built empty."""
    missing = [
        dep.to_user_string()
        for dep in deps
        if dep != raw_key("email_devices") and not table_exists(con, dep.path[0], dep.path[1])
    ]
    if missing:
        raise MissingUpstreamError(
            f"{staging_key(table).to_user_string()} reads {', '.join(missing)}, not in the warehouse "
            f"{database} yet: materialize {'it' if len(missing) == 1 else 'them'} first "
            "(Materialize all runs the whole sync)"
        )


def _count(con: Any, table: str) -> int:
    return int(con.sql(f"SELECT count(*) FROM {table}").fetchall()[0][0])


def _extra_metadata(con: Any, table: str) -> dict[str, Any]:
    if table == "users":
        hidden = con.sql(f"SELECT count(*) FROM {STAGING}.users WHERE NOT visible").fetchall()[0][0]
        return {keys.HIDDEN_MEMBERS: dg.MetadataValue.int(int(hidden))}
    if table == "memberships":
        by_type = dict(
            con.sql(f"SELECT member_type, count(*) FROM {STAGING}.memberships GROUP BY 1").fetchall()
        )
        return {"members_by_type": dg.MetadataValue.json({k: int(v) for k, v in by_type.items()})}
    return {}


staging_assets = [_build_staging_asset(t, deps, d) for t, (deps, d) in STAGING_TABLES.items()]
