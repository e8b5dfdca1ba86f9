"""A check's verdict from a query of offending rows: their count and a few of them as a table.

The C1-limits and cross-table reference checks both audit SQL that returns violating rows; one
function turns such a query into the `AssetCheckResult` (pass when there are none, the first few in
the UI) so both report violations the same way.
"""

import dagster as dg
import duckdb

from orchestration.markdown import markdown_table

EXAMPLES = 5


def violations_result(
    con: duckdb.DuckDBPyConnection,
    query: str,
    *,
    check_name: str,
    asset_key: dg.AssetKey,
    found: str,
    none: str,
) -> dg.AssetCheckResult:
    """Pass when `query` returns no rows; else fail with `<count> <found>` and up to EXAMPLES rows."""
    count = int(con.sql(f"SELECT count(*) FROM ({query})").fetchall()[0][0])
    examples = markdown_table(con.sql(f"SELECT * FROM ({query}) LIMIT {EXAMPLES}")) if count else "none"
    return dg.AssetCheckResult(
        check_name=check_name,
        asset_key=asset_key,
        passed=count == 0,
        description=f"{count} {found}" if count else none,
        metadata={
            "violations": dg.MetadataValue.int(count),
            "examples": dg.MetadataValue.md(examples),
        },
    )
