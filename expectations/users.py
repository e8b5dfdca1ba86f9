"""Users: a unique, non-null id; a display name; a status C1 understands."""

import great_expectations as gx

from expectations.identity import add_identity_expectations

ALLOWED_STATUSES = ["ENABLED", "DISABLED", "UNSPECIFIED"]


def build_suite() -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name="c1_users")
    add_identity_expectations(suite, "user_id")
    suite.add_expectation(
        gx.expectations.ExpectColumnValuesToBeInSet(column="status", value_set=ALLOWED_STATUSES)
    )
    return suite
