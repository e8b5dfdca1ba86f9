"""The blocking checks of each staged table, run together: one Dagster step per table.

Every check stays its own asset check (name, description, blocking, result and metadata, as the UI
and `run_outcome` read them); only the step that evaluates them is shared. One step per check
was 13 steps of Dagster's own bookkeeping (three events each, written to the run's SQLite event
log, and the step's set-up) for checks that mostly take milliseconds. Within a step, the GX suite
waits on the expectations worker process, so it runs on a thread while the table's SQL checks run
on this one. As with one step per check, every check of the table is evaluated even when another
fails or raises; a failed blocking check fails the step after all results are reported (Dagster
then skips what is downstream), and a check that raised fails it with its error.
"""

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from functools import partial

import dagster as dg

from orchestration.assets.c1_tables import STAGING
from orchestration.checks.drop_checks import drop_checks
from orchestration.checks.expectation_checks import expectation_checks
from orchestration.checks.limits_checks import limits_checks
from orchestration.checks.missing_tables import require_tables
from orchestration.checks.reference_checks import reference_checks
from orchestration.checks.table_check import CheckResources, TableCheck
from orchestration.resources import ExpectationsResource, SyncSettings, WarehouseResource, XmattersResource
from orchestration.stopped_run import reported_if_stopped

ALL_CHECKS: list[TableCheck] = [*expectation_checks, *reference_checks, *drop_checks, *limits_checks]


def evaluate_all(checks: Sequence[TableCheck], resources: CheckResources) -> Iterator[dg.AssetCheckResult]:
    """Every check's result, in the order given; then the first error raised by any of them."""
    outcomes: dict[str, dg.AssetCheckResult | Exception] = {}
    in_worker = [check for check in checks if check.in_worker]
    with ExitStack() as stack:
        # cursors before the pool: the pool's shutdown (waiting for its thread) unwinds first
        cursors = [stack.enter_context(resources.warehouse.connect()) for _ in in_worker]
        pool = stack.enter_context(ThreadPoolExecutor(max_workers=1, thread_name_prefix="worker-check"))
        futures: dict[str, Future[dg.AssetCheckResult]] = {
            check.spec.name: pool.submit(check.evaluate, cursor, resources)
            for check, cursor in zip(in_worker, cursors, strict=True)
        }
        for check in checks:
            if not check.in_worker:
                with resources.warehouse.connect() as con:
                    outcomes[check.spec.name] = _outcome(partial(check.evaluate, con, resources))
        for name, future in futures.items():
            outcomes[name] = _outcome(future.result)
    errors = []
    for check in checks:
        outcome = outcomes[check.spec.name]
        if isinstance(outcome, Exception):
            errors.append(outcome)
        else:
            yield outcome
    if errors:
        raise errors[0]


def _outcome(evaluate: Callable[[], dg.AssetCheckResult]) -> dg.AssetCheckResult | Exception:
    try:
        return evaluate()
    except Exception as exc:  # noqa: BLE001 - re-raised once the other checks have reported
        return exc


def _build(table: str, checks: list[TableCheck]) -> dg.AssetChecksDefinition:
    @dg.multi_asset_check(
        specs=[check.spec for check in checks],
        can_subset=True,  # a check launched alone (the UI's "Execute") runs alone, as before
        name=f"{STAGING}__{table}_checks",
        description=f"The blocking checks of {STAGING}.{table}: "
        + ", ".join(check.spec.name for check in checks)
        + ".",
    )
    def _checks(
        context: dg.AssetCheckExecutionContext,
        warehouse: WarehouseResource,
        expectations: ExpectationsResource,
        sync_settings: SyncSettings,
        xmatters: XmattersResource,
    ) -> Iterator[dg.AssetCheckResult]:
        selected = [check for check in checks if check.spec.key in context.selected_asset_check_keys]
        resources = CheckResources(warehouse, expectations, sync_settings, xmatters, context.run.tags)
        with reported_if_stopped(context, sync_settings.sync_file):
            require_tables(selected, warehouse)  # a check run alone on a new warehouse
            yield from evaluate_all(selected, resources)

    return _checks


def _by_table(checks: list[TableCheck]) -> dict[str, list[TableCheck]]:
    tables: dict[str, list[TableCheck]] = {}
    for check in checks:
        tables.setdefault(check.spec.asset_key.path[-1], []).append(check)
    return tables


table_checks = [_build(table, checks) for table, checks in _by_table(ALL_CHECKS).items()]
