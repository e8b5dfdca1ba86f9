"""`c1_access_changes`: what changed since the previous published sync (`c1.access_changes`)."""

import dagster as dg

from orchestration import history
from orchestration import metadata_keys as keys
from orchestration.markdown import markdown_table
from orchestration.resources import SyncSettings, WarehouseResource
from orchestration.stopped_run import reported_if_stopped


@dg.asset(
    key=keys.ACCESS_CHANGES_ASSET,
    deps=[keys.SYNC_FILE_ASSET],
    group_name="c1",
    kinds={"duckdb"},
    description="Grants added and removed, users added, removed, activated, deactivated or hidden, groups "
    "added or removed since the previous published sync, with names (views `c1.recent_changes`, "
    "`c1.group_access`); history kept for `history_retention` syncs.",
)
def c1_access_changes(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, sync_settings: SyncSettings
) -> dg.MaterializeResult:
    after_publish = reported_if_stopped(context, sync_settings.sync_file, published="this run's sync")
    with after_publish, warehouse.connect() as con:
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
    if changes is None:
        return dg.MaterializeResult(metadata={keys.SUMMARY: "no published sync yet"})
    return dg.MaterializeResult(
        metadata={
            keys.SUMMARY: dg.MetadataValue.text(changes.summary()),
            "sync_id": dg.MetadataValue.text(changes.sync_id),
            "previous_sync_id": dg.MetadataValue.text(changes.previous_sync_id or ""),
            **{kind: dg.MetadataValue.int(n) for kind, n in changes.counts.items()},
            "preview": dg.MetadataValue.md(preview or ""),
        }
    )
