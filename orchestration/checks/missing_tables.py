"""A check run alone before the staged tables it reads exist: one line saying what to materialize.

An asset check's "Execute" on its asset page runs the check alone. On a new warehouse (or before
that table was ever staged) every check failed with DuckDB's `Catalog Error: Table with name
"c1_staging.users" does not exist because schema "c1_staging" does not exist.` under a stack trace.
The step now stops first, as a staged table materialized alone does (`c1_tables._require_upstream`),
with a `dagster.Failure` whose description the UI shows as the step's error.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from orchestration.checks.table_check import TableCheck
from orchestration.resources import WarehouseResource
from orchestration.table_schema import table_exists


class CheckTablesMissing(dg.Failure):
    """The checks' tables are not staged yet; the description names them and what to run."""


def require_tables(checks: Sequence[TableCheck], warehouse: WarehouseResource) -> None:
    """Raises `CheckTablesMissing` when a table any of `checks` reads is not in the warehouse."""
    reads = list(dict.fromkeys(key for check in checks for key in check.reads()))
    with warehouse.connect() as con:
        missing = [key.to_user_string() for key in reads if not table_exists(con, key.path[0], key.path[1])]
    if missing:
        names = ", ".join(check.spec.name for check in checks)
        raise CheckTablesMissing(
            f"{names} read{'s' if len(checks) == 1 else ''} {', '.join(missing)}, not in the warehouse "
            f"{warehouse.database} yet: materialize {'it' if len(missing) == 1 else 'them'} first "
            "(Materialize all runs the whole sync)"
        )
