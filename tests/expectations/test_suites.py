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
    from great_expectations.expectations.expectation import ColumnMapExpectation, MulticolumnMapExpectation

    from expectations import runner
    from orchestration.checks.expectation_checks import SUITE_COLUMNS

    assert set(SUITE_COLUMNS) == set(runner.SUITES)
    row_wise = (ColumnMapExpectation, MulticolumnMapExpectation)
    for table in runner.SUITES:
        groups = SUITE_COLUMNS[table]
        read: set[str] = set()
        for expectation in runner._validation(table).suite.expectations:  # the registered suite
            columns = runner.columns_read(expectation)
            read |= columns
            # validated in exactly one of the check's column groups
            (group,) = [group for group in groups if columns <= set(group.columns)]
            if group.key:  # partitioned by its key: only row-wise checks and uniqueness of the key
                assert isinstance(expectation, row_wise), (table, expectation.expectation_type)
                if "unique" in expectation.expectation_type:
                    assert columns == set(group.key), (table, expectation.expectation_type)
        assert read == {column for group in groups for column in group.columns}, table
        assert sum(len(group.columns) for group in groups) == len(read), table  # groups do not overlap


def test_the_columns_sent_as_their_first_character_are_only_checked_for_presence():
    """The checks send `FIRST_CHARACTER_COLUMNS` as their first character (names of any length):
    right only while their expectations are not-null and a length of at least 1."""
    from great_expectations.expectations.core import (
        ExpectColumnValueLengthsToBeBetween,
        ExpectColumnValuesToNotBeNull,
    )

    from expectations import runner
    from orchestration.checks.expectation_checks import FIRST_CHARACTER_COLUMNS

    seen = set()
    for table in runner.SUITES:
        for expectation in runner._validation(table).suite.expectations:
            if not runner.columns_read(expectation) & FIRST_CHARACTER_COLUMNS:
                continue
            seen.add(type(expectation))
            assert isinstance(
                expectation, ExpectColumnValuesToNotBeNull | ExpectColumnValueLengthsToBeBetween
            )
            if isinstance(expectation, ExpectColumnValueLengthsToBeBetween):
                assert (expectation.min_value, expectation.max_value) == (1, None), table
    assert seen == {ExpectColumnValuesToNotBeNull, ExpectColumnValueLengthsToBeBetween}


def test_a_group_of_a_long_name_is_sent_to_the_worker_as_its_first_character(tmp_path):
    """5,000 groups of 20 KB names were 100 MB sent to the worker; an empty or missing name still
    fails the same expectations."""
    import duckdb

    from orchestration.checks import expectation_checks as checks

    con = duckdb.connect()
    con.execute(f"CREATE SCHEMA {checks.STAGING}")
    con.execute(
        f"CREATE TABLE {checks.STAGING}.groups AS SELECT * FROM (VALUES "
        "('g1', repeat('é', 20000)), ('g2', ''), ('g3', NULL)) AS t(group_id, display_name)"
    )
    [query] = checks.partitioned_queries(con, "groups", checks.SUITE_COLUMNS["groups"][0])
    sent = con.sql(query).fetchall()
    assert sent == [("g1", "é"), ("g2", ""), ("g3", None)]
    outcome = validate("groups", con.sql(query).df())
    assert _failed(outcome) == {
        ("expect_column_values_to_not_be_null", "display_name"),
        ("expect_column_value_lengths_to_be_between", "display_name"),
    }


def test_a_partitioned_check_finds_what_the_whole_table_shows(monkeypatch):
    """Grants validated in hash partitions of each group's key (as a million grants are) fail the
    same expectations with the same counts as the whole table: duplicates share a partition."""
    import duckdb

    from expectations.outcome import SuiteOutcome
    from orchestration.checks import expectation_checks as checks

    monkeypatch.setattr(checks, "CHECK_PARTITION_ROWS", 10)
    con = duckdb.connect()
    con.execute(f"CREATE SCHEMA {checks.STAGING}")
    con.execute(
        f"CREATE TABLE {checks.STAGING}.grants AS SELECT 'grant-' || (i % 37) AS grant_id, "
        "'group:g' || (i % 4) || ':member' AS entitlement_id, "
        "CASE WHEN i = 7 THEN 'robot' ELSE 'user' END AS principal_type, 'u' || (i % 6) AS principal_id "
        "FROM range(40) t(i)"
    )
    whole = validate("grants", con.sql(f"SELECT * FROM {checks.STAGING}.grants").df())
    outcomes = []
    for group in checks.SUITE_COLUMNS["grants"]:
        queries = checks.partitioned_queries(con, "grants", group)
        assert len(queries) == 4
        outcomes.append(SuiteOutcome.of_partitions([validate("grants", con.sql(q).df()) for q in queries]))
    parts = SuiteOutcome.combined(outcomes)
    assert not whole.success and not parts.success
    assert parts.evaluated == whole.evaluated == 4

    def counts(outcome: SuiteOutcome) -> dict[tuple[str, str], int]:
        return {(f.expectation, f.column): f.unexpected_count for f in outcome.failures}

    assert (
        counts(parts)
        == counts(whole)
        == {
            ("expect_column_values_to_be_unique", "grant_id"): 6,  # grant-0, -1, -2 twice each
            (
                "expect_compound_columns_to_be_unique",
                "entitlement_id,principal_type,principal_id",
            ): 39,  # all but the robot
            ("expect_column_values_to_be_in_set", "principal_type"): 1,
        }
    )
