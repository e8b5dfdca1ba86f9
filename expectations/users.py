"""Users: a unique, non-null id; a display name; a status C1 understands."""

import great_expectations as gx

ALLOWED_STATUSES = ["ENABLED", "DISABLED", "UNSPECIFIED"]


def build_suite() -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name="c1_users")
    suite.add_expectation(gx.expectations.ExpectColumnValuesToNotBeNull(column="user_id"))
    suite.add_expectation(gx.expectations.ExpectColumnValuesToBeUnique(column="user_id"))
    suite.add_expectation(gx.expectations.ExpectColumnValuesToNotBeNull(column="display_name"))
    suite.add_expectation(
        gx.expectations.ExpectColumnValueLengthsToBeBetween(column="display_name", min_value=1)
    )
    suite.add_expectation(
        gx.expectations.ExpectColumnValuesToBeInSet(column="status", value_set=ALLOWED_STATUSES)
    )
    return suite
