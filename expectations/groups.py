"""Groups: a unique, non-null id and a name to show."""

import great_expectations as gx

from expectations.identity import add_identity_expectations


def build_suite() -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name="c1_groups")
    add_identity_expectations(suite, "group_id")
    return suite
