"""Groups: a unique, non-null id and a name to show."""

import great_expectations as gx


def build_suite() -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name="c1_groups")
    suite.add_expectation(gx.expectations.ExpectColumnValuesToNotBeNull(column="group_id"))
    suite.add_expectation(gx.expectations.ExpectColumnValuesToBeUnique(column="group_id"))
    suite.add_expectation(gx.expectations.ExpectColumnValuesToNotBeNull(column="display_name"))
    suite.add_expectation(
        gx.expectations.ExpectColumnValueLengthsToBeBetween(column="display_name", min_value=1)
    )
    return suite
