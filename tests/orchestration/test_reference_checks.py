"""The SQL reference checks fail on dangling references and show the offending rows."""

from __future__ import annotations

import duckdb
import pytest

from orchestration.checks.reference_checks import reference_result
from orchestration.resources import WarehouseResource


def evaluate(name: str, warehouse: WarehouseResource):
    with warehouse.connect() as con:
        return reference_result(name, con)


@pytest.fixture
def warehouse(tmp_path) -> WarehouseResource:
    database = tmp_path / "wh.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("CREATE SCHEMA c1_staging")
        con.execute("CREATE TABLE c1_staging.users AS SELECT 'u1' AS user_id")
        con.execute("CREATE TABLE c1_staging.groups (group_id VARCHAR, display_name VARCHAR)")
        con.execute("INSERT INTO c1_staging.groups VALUES ('g1', 'Ops'), ('g2', 'Dev')")
        con.execute("CREATE TABLE c1_staging.entitlements (entitlement_id VARCHAR, group_id VARCHAR)")
        con.execute("INSERT INTO c1_staging.entitlements VALUES ('group:g1:member', 'g1')")
        con.execute(
            "CREATE TABLE c1_staging.grants "
            "(grant_id VARCHAR, entitlement_id VARCHAR, principal_type VARCHAR, principal_id VARCHAR)"
        )
        con.execute(
            "INSERT INTO c1_staging.grants VALUES ('a', 'group:g1:member', 'user', 'u1'), "
            "('b', 'group:g1:member', 'user', 'u9'), ('c', 'group:g2:member', 'user', 'u1')"
        )
    return WarehouseResource(database=str(database), dlt_pipelines_dir=str(tmp_path / "dlt"))


@pytest.mark.parametrize(
    ("name", "violations", "shown"),
    [
        ("grant_principals_exist", 1, "u9"),
        ("grant_entitlements_exist", 1, "group:g2:member"),
        ("entitlement_per_group", 1, "Dev"),
    ],
)
def test_each_rule_counts_and_shows_its_violations(warehouse, name, violations, shown):
    result = evaluate(name, warehouse)
    assert result.passed is False
    assert result.metadata["violations"].value == violations
    assert shown in result.metadata["examples"].value
    assert result.description == f"{violations} violating rows"


def test_a_clean_table_passes_without_examples(warehouse):
    with duckdb.connect(warehouse.database) as con:
        con.execute("DELETE FROM c1_staging.grants WHERE principal_id = 'u9'")
    result = evaluate("grant_principals_exist", warehouse)
    assert result.passed is True
    assert (result.metadata["violations"].value, result.metadata["examples"].value) == (0, "none")
