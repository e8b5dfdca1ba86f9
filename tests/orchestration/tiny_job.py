"""A one-op Dagster job for tests of the CLI's instance (its storages, commits and schedule file):
they need a real run in a real home, not the sync's assets."""

import dagster as dg


@dg.op
def noop() -> int:
    return 1


@dg.job
def tiny_job() -> None:
    noop()
