"""Great Expectations suites for the `c1` tables, one module per table, and a runner.

Kept free of Dagster so the suites can be run from a notebook or a test on any DataFrame.
"""
