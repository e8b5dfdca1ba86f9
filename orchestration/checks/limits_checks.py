"""Blocking check: what the `.c1z` gets from each staged table passes C1's byte limits.

Why: C1's reader runs protoc-gen-validate's `ValidateAll()` on every message; one display name over
1024 bytes fails the group, its entitlement and every grant that embeds it. The writer reads the
staged tables through `c1z_select` (text shortened to the limits); this check audits exactly that
output, and the ids, which are never shortened. A regression in the shortening then shows in the UI
as a failed check and nothing is published, instead of a file C1 rejects.
"""

import dagster as dg
import duckdb

from orchestration.assets.c1_tables import STAGING, staging_key
from orchestration.c1_limits_sql import ID_COLUMNS, LIMITED_COLUMNS, install_macros, violations_query
from orchestration.checks.table_check import CheckResources, TableCheck
from orchestration.checks.violations import violations_result

CHECKED_TABLES = ["users", "groups", "entitlements", "grants"]


def _rules(table: str) -> str:
    rules = [
        f"{c} <= {limit.max_bytes} bytes" for c, limit in LIMITED_COLUMNS.get(table, ("", "", {}))[2].items()
    ]
    if table in ID_COLUMNS:
        column, limit = ID_COLUMNS[table]
        rules.append(f"{column} 1-{limit.max_bytes} bytes")
    return ", ".join(rules)


def limits_result(table: str, con: duckdb.DuckDBPyConnection) -> dg.AssetCheckResult:
    """What the `.c1z` would get from `table` over C1's limits: counted, a few shown."""
    install_macros(con)
    return violations_result(
        con,
        violations_query(table),
        check_name=f"{table}_c1_limits",
        asset_key=staging_key(table),
        found="values over C1's limits",
        none="every value within C1's limits",
    )


def _check(table: str) -> TableCheck:
    def evaluate(con: duckdb.DuckDBPyConnection, resources: CheckResources) -> dg.AssetCheckResult:
        return limits_result(table, con)

    spec = dg.AssetCheckSpec(
        name=f"{table}_c1_limits",
        asset=staging_key(table),
        blocking=True,
        description=f"What the .c1z gets from {STAGING}.{table} passes C1's validation: {_rules(table)} "
        "(text shortened to the limits, ids never).",
    )
    return TableCheck(spec, evaluate)


limits_checks = [_check(table) for table in CHECKED_TABLES]
