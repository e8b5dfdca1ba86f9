"""Runs the Great Expectations suite of each staged table (expectations/) as a blocking check.

GX is imported when a check runs, not with the definitions: the import is half of a sync's
start-up, and the UI and the CLI load definitions far more often than they run checks.
"""

import dagster as dg

from orchestration.assets.c1_tables import STAGING, staging_key
from orchestration.resources import WarehouseResource

# the columns each suite reads: loading only these keeps a million grants cheap to validate
SUITE_COLUMNS = {
    "users": ["user_id", "display_name", "status"],
    "groups": ["group_id", "display_name"],
    "entitlements": ["entitlement_id", "group_id", "slug"],
    "grants": ["grant_id", "entitlement_id", "principal_type", "principal_id"],
}


def _build_check(table: str, columns: list[str]) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=staging_key(table),
        name=f"{table}_expectations",
        blocking=True,
        description=f"Great Expectations suite c1_{table} (expectations/{table}.py).",
    )
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        from expectations.runner import validate

        with warehouse.connect() as con:
            frame = con.sql(f"SELECT {', '.join(columns)} FROM {STAGING}.{table}").df()
        outcome = validate(table, frame)
        return dg.AssetCheckResult(
            passed=outcome.success,
            description=outcome.describe(),
            metadata={
                "rows": dg.MetadataValue.int(len(frame)),
                "expectations": dg.MetadataValue.int(outcome.evaluated),
                "failures": dg.MetadataValue.json(
                    [
                        {
                            "expectation": f.expectation,
                            "column": f.column,
                            "unexpected_count": f.unexpected_count,
                            "examples": f.examples,
                        }
                        for f in outcome.failures
                    ]
                ),
            },
        )

    return _check


expectation_checks = [_build_check(table, columns) for table, columns in SUITE_COLUMNS.items()]
