"""Runs the Great Expectations suite of each staged table (expectations/) as a blocking check.

The suites run in the expectations worker process (ExpectationsResource): GX is never imported
by the definitions or the run's own process, and the table goes to the worker as Arrow batches.

A large table is validated in bounded parts, so the worker's memory does not grow with the tenant:
GX validates a pandas frame and copies it to filter the rows an expectation looks at, which for a
million grants' four columns took the worker ~0.6 GB above its idle ~0.25 GB, beside the sync
(docs/benchmarks.md, tenth round). Each suite's columns are read in groups (`ColumnGroup`), and a
group with a `key` is split into hash partitions of that key of at most `CHECK_PARTITION_ROWS`
rows: rows with equal keys land in the same partition, so a uniqueness expectation over the key
finds every duplicate, and a row-wise expectation sees every row once. The partitions' outcomes
are added up (`SuiteOutcome.of_partitions`).
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg
import duckdb

from expectations.outcome import SuiteOutcome
from orchestration.assets.c1_tables import STAGING, staging_key
from orchestration.checks.table_check import CheckResources, TableCheck


@dataclass(frozen=True)
class ColumnGroup:
    """Columns validated together; `key`: the columns of the group's uniqueness expectations, by
    which a large table is partitioned (no key: always validated whole)."""

    columns: tuple[str, ...]
    key: tuple[str, ...] = ()


# the columns each suite reads (GX is not imported here; tests/expectations/test_suites.py checks that
# these are exactly the suites' columns, that every expectation reads columns of one group, and that a
# keyed group holds only row-wise expectations and uniqueness over its key)
SUITE_COLUMNS = {
    "users": [ColumnGroup(("user_id", "display_name", "status"))],
    "groups": [ColumnGroup(("group_id", "display_name"))],
    "entitlements": [ColumnGroup(("entitlement_id", "group_id", "slug"))],
    "grants": [
        ColumnGroup(("grant_id",), key=("grant_id",)),
        ColumnGroup(
            ("entitlement_id", "principal_type", "principal_id"),
            key=("entitlement_id", "principal_type", "principal_id"),
        ),
    ],
}

# Columns each of whose expectations is decided by the first character (not null, length at least
# 1): the worker is sent that character, not the whole text. 5,000 groups of 20 KB names were a
# 100 MB Arrow batch in this process and a frame in the worker at once, the sync tree's peak
# (docs/benchmarks.md, twenty-seventh round). tests/expectations/test_suites.py checks that these
# columns have no other expectation.
FIRST_CHARACTER_COLUMNS = frozenset({"display_name"})

# most rows GX validates at once: a million grants go as 4 partitions of each column group
CHECK_PARTITION_ROWS = 250_000
# rows per Arrow batch sent to the worker: DuckDB's default (a million) made a million grants one
# ~200 MB batch in this process and one ~200 MB message to read in the worker
CHECK_BATCH_ROWS = 65_536


def partitioned_queries(con: duckdb.DuckDBPyConnection, table: str, group: ColumnGroup) -> list[str]:
    """The queries of `group`'s columns, one per hash partition of its key (one when small)."""
    columns = [f"left({c}, 1) AS {c}" if c in FIRST_CHARACTER_COLUMNS else c for c in group.columns]
    select = f"SELECT {', '.join(columns)} FROM {STAGING}.{table}"
    if not group.key:
        return [select]
    count = con.sql(f"SELECT count(*) FROM {STAGING}.{table}").fetchall()[0][0]
    parts = -(-count // CHECK_PARTITION_ROWS)
    if parts <= 1:
        return [select]
    key = ", ".join(group.key)
    return [f"{select} WHERE hash({key}) % {parts} = {part}" for part in range(parts)]


def expectations_result(
    table: str, con: duckdb.DuckDBPyConnection, expectations: object
) -> dg.AssetCheckResult:
    """The suite of `table` validated by the worker, group by group and partition by partition."""
    outcomes = []
    row_count = 0
    for group in SUITE_COLUMNS[table]:
        partitions = []
        row_count = 0
        for query in partitioned_queries(con, table, group):
            outcome, rows = expectations.validate(  # type: ignore[attr-defined]
                table, con.sql(query).to_arrow_reader(CHECK_BATCH_ROWS)
            )
            partitions.append(outcome)
            row_count += rows
        outcomes.append(SuiteOutcome.of_partitions(partitions))
    outcome = SuiteOutcome.combined(outcomes)
    return dg.AssetCheckResult(
        check_name=f"{table}_expectations",
        asset_key=staging_key(table),
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


def _check(table: str) -> TableCheck:
    def evaluate(con: duckdb.DuckDBPyConnection, resources: CheckResources) -> dg.AssetCheckResult:
        return expectations_result(table, con, resources.expectations)

    spec = dg.AssetCheckSpec(
        name=f"{table}_expectations",
        asset=staging_key(table),
        blocking=True,
        description=f"Great Expectations suite c1_{table} (expectations/{table}.py).",
    )
    return TableCheck(spec, evaluate, in_worker=True)


expectation_checks = [_check(table) for table in SUITE_COLUMNS]
