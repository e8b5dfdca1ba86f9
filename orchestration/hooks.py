"""Job hooks: work that belongs between steps rather than inside any asset."""

import dagster as dg

from expectations import warm_up as expectations_warm_up

RAW_STEP = "xmatters_raw"


@dg.success_hook(name="warm_up_expectations")
def warm_up_expectations(context: dg.HookContext) -> None:
    """Once the extract has landed, import GX on a background thread for the checks to come.

    Why here: the import is ~5 s of pure Python. Started with the run, it held the GIL against the
    member-call threads and slowed the latency-bound extract more than it saved (20 ms per call:
    9 s -> 18 s at M); after the raw step, it overlaps the transforms, which run in DuckDB without
    the GIL.
    """
    if context.step_key == RAW_STEP:
        expectations_warm_up.start()
