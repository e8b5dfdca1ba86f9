"""Cross-table rules GX cannot express on one DataFrame, as SQL: the rules `baton grants` enforces.

Each query returns the offending rows; the check passes when there are none and shows a few.
"""

import dagster as dg
import duckdb

from orchestration.assets.c1_tables import STAGING, staging_key
from orchestration.checks.table_check import CheckResources, TableCheck
from orchestration.checks.violations import violations_result

REFERENCE_RULES: dict[str, tuple[str, str, str]] = {
    # name: (checked table, description, query returning violating rows); READS: the other tables
    "grant_principals_exist": (
        "grants",
        "Every grant's principal is a staged user (or, for expandable grants, a staged group).",
        f"""SELECT g.grant_id, g.principal_type, g.principal_id FROM {STAGING}.grants g
            WHERE (g.principal_type = 'user'
                   AND g.principal_id NOT IN (SELECT user_id FROM {STAGING}.users))
               OR (g.principal_type = 'group'
                   AND g.principal_id NOT IN (SELECT group_id FROM {STAGING}.groups))""",
    ),
    "grant_entitlements_exist": (
        "grants",
        "Every grant's entitlement exists.",
        f"""SELECT g.grant_id, g.entitlement_id FROM {STAGING}.grants g
            WHERE g.entitlement_id NOT IN (SELECT entitlement_id FROM {STAGING}.entitlements)""",
    ),
    "entitlement_per_group": (
        "entitlements",
        "Every group has its `member` entitlement.",
        f"""SELECT gr.group_id, gr.display_name FROM {STAGING}.groups gr
            WHERE gr.group_id NOT IN (SELECT group_id FROM {STAGING}.entitlements)""",
    ),
}


READS: dict[str, tuple[str, ...]] = {
    "grant_principals_exist": ("users", "groups"),
    "grant_entitlements_exist": ("entitlements",),
    "entitlement_per_group": ("groups",),
}


def reference_result(name: str, con: duckdb.DuckDBPyConnection) -> dg.AssetCheckResult:
    """The rule `name` of `REFERENCE_RULES` on the staged tables: the violating rows, a few shown."""
    table, _, query = REFERENCE_RULES[name]
    return violations_result(
        con,
        query,
        check_name=name,
        asset_key=staging_key(table),
        found="violating rows",
        none="no violations",
    )


def _check(name: str) -> TableCheck:
    table, description, _ = REFERENCE_RULES[name]

    def evaluate(con: duckdb.DuckDBPyConnection, resources: CheckResources) -> dg.AssetCheckResult:
        return reference_result(name, con)

    spec = dg.AssetCheckSpec(name=name, asset=staging_key(table), blocking=True, description=description)
    return TableCheck(spec, evaluate, also_reads=tuple(staging_key(other) for other in READS[name]))


reference_checks = [_check(name) for name in REFERENCE_RULES]
