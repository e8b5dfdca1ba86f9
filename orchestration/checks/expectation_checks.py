"""Runs the Great Expectations suite of each staged table (expectations/) as a blocking check.

The suites run in the expectations worker process (ExpectationsResource): GX is never imported
by the definitions or the run's own process, and the table goes to the worker as Arrow batches.
"""

import dagster as dg

from expectations.outcome import SuiteOutcome
from orchestration.assets.c1_tables import STAGING, staging_key
from orchestration.resources import ExpectationsResource, WarehouseResource

# the columns each suite reads, in groups validated one after the other: loading only these keeps a
# million grants cheap to validate, and the grants' two groups (the id; the entitlement and
# principal) halve the worker's peak, since GX copies the frame it filters (GX is not imported here;
# tests/expectations/test_suites.py checks that these are exactly the suites' columns and that every
# expectation reads columns of one group)
SUITE_COLUMNS = {
    "users": [["user_id", "display_name", "status"]],
    "groups": [["group_id", "display_name"]],
    "entitlements": [["entitlement_id", "group_id", "slug"]],
    "grants": [["grant_id"], ["entitlement_id", "principal_type", "principal_id"]],
}


# rows per Arrow batch sent to the worker: DuckDB's default (a million) made a million grants one
# ~200 MB batch in this process and one ~200 MB message to read in the worker
CHECK_BATCH_ROWS = 65_536


def _build_check(table: str, column_groups: list[list[str]]) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=staging_key(table),
        name=f"{table}_expectations",
        blocking=True,
        description=f"Great Expectations suite c1_{table} (expectations/{table}.py).",
    )
    def _check(warehouse: WarehouseResource, expectations: ExpectationsResource) -> dg.AssetCheckResult:
        parts = []
        with warehouse.connect() as con:
            for columns in column_groups:
                query = f"SELECT {', '.join(columns)} FROM {STAGING}.{table}"
                parts.append(expectations.validate(table, con.sql(query).to_arrow_reader(CHECK_BATCH_ROWS)))
        outcome, row_count = SuiteOutcome.combined([part for part, _ in parts]), parts[0][1]
        return dg.AssetCheckResult(
            passed=outcome.success,
            description=outcome.describe(),
            metadata={
                "rows": dg.MetadataValue.int(row_count),
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
