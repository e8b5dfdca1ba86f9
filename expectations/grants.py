"""Grants: a unique id, and one grant per (entitlement, principal)."""

import great_expectations as gx


def build_suite() -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name="c1_grants")
    suite.add_expectation(gx.expectations.ExpectColumnValuesToNotBeNull(column="grant_id"))
    suite.add_expectation(gx.expectations.ExpectColumnValuesToBeUnique(column="grant_id"))
    suite.add_expectation(
        gx.expectations.ExpectCompoundColumnsToBeUnique(
            column_list=["entitlement_id", "principal_type", "principal_id"]
        )
    )
    suite.add_expectation(
        gx.expectations.ExpectColumnValuesToBeInSet(column="principal_type", value_set=["user", "group"])
    )
    return suite
