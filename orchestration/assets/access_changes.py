"""`c1_access_changes`: what changed since the previous published sync (`c1.access_changes`)."""

import dagster as dg

from orchestration import history, run_retention
from orchestration import metadata_keys as keys
from orchestration.checks.per_table import table_checks
from orchestration.markdown import markdown_table
from orchestration.resources import SyncSettings, WarehouseResource
from orchestration.run_warehouse import warehouse_path
from orchestration.stopped_run import reported_if_stopped

_CHECKS = [key for checks in table_checks for key in checks.check_keys]


@dg.asset(
    key=keys.ACCESS_CHANGES_ASSET,
    deps=[keys.SYNC_FILE_ASSET],
    group_name="c1",
    kinds={"duckdb"},
    description="Grants added and removed, users added, removed, activated, deactivated or hidden, groups "
    "added or removed since the previous published sync, with names (views `c1.recent_changes`, "
    "`c1.group_access`); history kept for `history_retention` syncs, and so are their Dagster runs "
    "(older runs are deleted).",
)
def c1_access_changes(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, sync_settings: SyncSettings
) -> dg.MaterializeResult:
    after_publish = reported_if_stopped(context, sync_settings.sync_file, published="this run's sync")
    with after_publish:
        with warehouse.connect() as con:
            changes = history.compute_changes(con, sync_settings.history_retention)
            preview = (
                markdown_table(
                    con.sql(
                        "SELECT change, group_name, principal_name, display_name, object_id "
                        "FROM c1.access_changes WHERE sync_id = ? ORDER BY change, object_id LIMIT 10",
                        params=[changes.sync_id],
                    )
                )
                if changes
                else None
            )
        # after the warehouse is closed: the run history is Dagster's, not DuckDB's
        pruned, warning = run_retention.prune_or_warn(
            context.instance,
            sync_settings.history_retention,
            _CHECKS,
            [context.asset_key],
            warehouse=warehouse_path(warehouse.database),
        )
        sync_settings.history_pruned()  # the run's end does not prune again
    run_history: dict[str, dg.MetadataValue] = {}
    if pruned is not None:
        run_history[keys.RUN_HISTORY] = dg.MetadataValue.text(pruned.summary())
    if warning is not None:
        context.log.warning(warning)
        run_history[keys.RUN_HISTORY_WARNING] = dg.MetadataValue.text(warning)
    if changes is None:
        return dg.MaterializeResult(metadata={keys.SUMMARY: "no published sync yet", **run_history})
    return dg.MaterializeResult(
        metadata={
            keys.SUMMARY: dg.MetadataValue.text(changes.summary()),
            "sync_id": dg.MetadataValue.text(changes.sync_id),
            "previous_sync_id": dg.MetadataValue.text(changes.previous_sync_id or ""),
            **{kind: dg.MetadataValue.int(n) for kind, n in changes.counts.items()},
            "preview": dg.MetadataValue.md(preview or ""),
            **run_history,
        }
    )
