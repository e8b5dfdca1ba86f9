"""Entitlements: exactly one `member` entitlement per group.

Uniqueness of group_id proves "at most one"; the SQL check beside the warehouse proves "at least
one" (a cross-table rule GX cannot express on one DataFrame).
"""

import great_expectations as gx


def build_suite() -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name="c1_entitlements")
    suite.add_expectation(gx.expectations.ExpectColumnValuesToNotBeNull(column="entitlement_id"))
    suite.add_expectation(gx.expectations.ExpectColumnValuesToBeUnique(column="entitlement_id"))
    suite.add_expectation(gx.expectations.ExpectColumnValuesToBeUnique(column="group_id"))
    suite.add_expectation(gx.expectations.ExpectColumnValuesToBeInSet(column="slug", value_set=["member"]))
    return suite
