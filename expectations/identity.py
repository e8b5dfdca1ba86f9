"""The identity rules C1 has for every resource it shows: users and groups alike."""

import great_expectations as gx


def add_identity_expectations(suite: gx.ExpectationSuite, id_column: str) -> None:
    """Add: `id_column` non-null and unique, `display_name` non-null and not empty.

    C1 keys users and groups by id and lists both by display name, so the two tables must meet the
    same rules; one definition keeps their suites from drifting apart.
    """
    suite.add_expectation(gx.expectations.ExpectColumnValuesToNotBeNull(column=id_column))
    suite.add_expectation(gx.expectations.ExpectColumnValuesToBeUnique(column=id_column))
    suite.add_expectation(gx.expectations.ExpectColumnValuesToNotBeNull(column="display_name"))
    suite.add_expectation(
        gx.expectations.ExpectColumnValueLengthsToBeBetween(column="display_name", min_value=1)
    )
