"""Each GX suite passes clean tables and names exactly what is wrong with dirty ones."""

import pandas as pd

from expectations.runner import validate


def _failed(outcome) -> set[tuple[str, str]]:
    return {(f.expectation, f.column) for f in outcome.failures}


def test_users_suite_accepts_clean_users():
    frame = pd.DataFrame(
        {
            "user_id": ["u1", "u2"],
            "display_name": ["Ada Lovelace", "bob"],
            "status": ["ENABLED", "UNSPECIFIED"],
        }
    )
    outcome = validate("users", frame)
    assert outcome.success, outcome.describe()
    assert outcome.evaluated == 5


def test_users_suite_reports_duplicates_missing_names_and_bad_status():
    frame = pd.DataFrame(
        {
            "user_id": ["u1", "u1", None],
            "display_name": ["a", "", "c"],
            "status": ["ENABLED", "ACTIVE", "DISABLED"],
        }
    )
    outcome = validate("users", frame)
    assert not outcome.success
    assert _failed(outcome) == {
        ("expect_column_values_to_not_be_null", "user_id"),
        ("expect_column_values_to_be_unique", "user_id"),
        ("expect_column_value_lengths_to_be_between", "display_name"),
        ("expect_column_values_to_be_in_set", "status"),
    }
    in_set = next(f for f in outcome.failures if f.column == "status")
    assert in_set.unexpected_count == 1
    assert in_set.examples == ["ACTIVE"]


def test_groups_suite_reports_duplicate_ids():
    frame = pd.DataFrame({"group_id": ["g1", "g1"], "display_name": ["Ops", "Ops 2"]})
    outcome = validate("groups", frame)
    assert _failed(outcome) == {("expect_column_values_to_be_unique", "group_id")}


def test_entitlements_suite_allows_one_member_entitlement_per_group():
    frame = pd.DataFrame(
        {
            "entitlement_id": ["group:g1:member", "group:g1:member2"],
            "group_id": ["g1", "g1"],
            "slug": ["member"] * 2,
        }
    )
    outcome = validate("entitlements", frame)
    assert _failed(outcome) == {("expect_column_values_to_be_unique", "group_id")}


def test_grants_suite_reports_a_principal_granted_twice():
    frame = pd.DataFrame(
        {
            "grant_id": ["a", "b", "c"],
            "entitlement_id": ["group:g1:member", "group:g1:member", "group:g2:member"],
            "principal_type": ["user", "user", "user"],
            "principal_id": ["u1", "u1", "u1"],
        }
    )
    outcome = validate("grants", frame)
    assert _failed(outcome) == {
        ("expect_compound_columns_to_be_unique", "entitlement_id,principal_type,principal_id")
    }
    assert outcome.failures[0].unexpected_count == 2


def test_validation_does_not_fingerprint_the_frame(monkeypatch):
    """GX would hash every frame under 1 GB for an unused batch marker (~240 MB at a million grants)."""
    from great_expectations.execution_engine import pandas_execution_engine

    hashed = []
    monkeypatch.setattr(
        pandas_execution_engine, "hash_pandas_dataframe", lambda df: hashed.append(len(df)) or "x"
    )
    frame = pd.DataFrame({"group_id": ["g1", "g2"], "display_name": ["Ops", "Dev"]})
    outcome = validate("groups", frame)
    assert outcome.success, outcome.describe()
    assert hashed == []


def test_the_checks_load_exactly_the_columns_the_suites_read():
    """`SUITE_COLUMNS` (orchestration, which must not import GX) and the suites name the same columns:
    one missing would fail every sync's check, one extra would load a million grants' worth for nothing."""
    from expectations import runner
    from orchestration.checks.expectation_checks import SUITE_COLUMNS

    assert set(SUITE_COLUMNS) == set(runner.SUITES)
    for table in runner.SUITES:
        groups = [set(group) for group in SUITE_COLUMNS[table]]
        read: set[str] = set()
        for expectation in runner._validation(table).suite.expectations:  # the registered suite
            columns = runner.columns_read(expectation)
            read |= columns
            # validated in exactly one of the check's column groups
            assert sum(columns <= group for group in groups) == 1, (table, sorted(columns))
        assert read == set().union(*groups), table
        assert sum(len(group) for group in groups) == len(read), table  # groups do not overlap
