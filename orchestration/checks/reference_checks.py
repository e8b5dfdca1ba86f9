"""Cross-table rules GX cannot express on one DataFrame, as SQL: the rules `baton grants` enforces.

Each query returns the offending rows; the check passes when there are none and shows a few.
"""

import dagster as dg

from orchestration.assets.c1_tables import STAGING, staging_key
from orchestration.checks.violations import violations_result
from orchestration.resources import WarehouseResource

REFERENCE_RULES: dict[str, tuple[str, str, str]] = {
    # name: (checked table, description, query returning violating rows)
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


def _build_check(name: str, table: str, description: str, query: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=staging_key(table), name=name, blocking=True, description=description)
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.connect() as con:
            return violations_result(con, query, found="violating rows", none="no violations")

    return _check


reference_checks = [_build_check(name, *rule) for name, rule in REFERENCE_RULES.items()]
