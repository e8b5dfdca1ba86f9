"""The raw layer: xMatters people, groups and group members landed by dlt in `xmatters_raw`.

The asset definitions are built from a source with placeholder settings (no network at import)
and a pipeline in a throwaway directory (no dlt state written at import); the real source, with the
credentials resolved at launch, and the warehouse's pipeline are passed to `dlt.run` at run time.
"""

import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData
from dlt.pipeline.exceptions import PipelineStepFailed
from dlt.pipeline.pipeline import Pipeline

from orchestration import metadata_keys as keys
from orchestration.credentials_hint import for_run
from orchestration.markdown import markdown_table
from orchestration.resources import SyncSettings, WarehouseResource, XmattersResource
from orchestration.stopped_run import reported_if_stopped
from orchestration.sync_source import last_source, require_same_source
from orchestration.table_schema import table_exists
from pipelines.released_memory import release_unused_memory
from pipelines.xmatters import early_members
from pipelines.xmatters.config import XmattersConfig
from pipelines.xmatters.loader import (
    abort_pending_packages,
    failed_load_job,
    find_xmatters_error,
    raw_pipeline,
    remove_rows_of_skipped_groups,
)
from pipelines.xmatters.member_calls import MemberProcess
from pipelines.xmatters.report import ExtractReport
from pipelines.xmatters.settings import GROUP_MEMBERS
from pipelines.xmatters.source import xmatters_source
from pipelines.xmatters.state_lock import pipelines_dir_lock

log = logging.getLogger("baton_xmatters")

RAW_PREFIX = "xmatters_raw"

PLACEHOLDER_CONFIG = XmattersConfig(
    base_url="https://placeholder.invalid/api/xm/1", username="placeholder", password="placeholder"
)


class RawTranslator(DagsterDltTranslator):
    """Keys the raw assets `xmatters_raw/<resource>` with no fake upstream stubs."""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        spec = super().get_asset_spec(data)
        return spec.replace_attributes(
            key=dg.AssetKey([RAW_PREFIX, data.resource.name]),
            deps=[],
            group_name="raw",
            description=RAW_DESCRIPTIONS.get(data.resource.name, spec.description),
        )


RAW_DESCRIPTIONS = {
    "people": "Every person `/people` returns to the API account (xmatters_raw.people).",
    "groups": "Every group `/groups` returns (xmatters_raw.groups).",
    "group_members": "Every member row of every group, all four member types (xmatters_raw.group_members).",
    "email_devices": "People's EMAIL devices, read only with --sync-emails (xmatters_raw.email_devices).",
}


def definition_pipeline() -> Pipeline:
    """The pipeline the asset specs are named from (name, dataset, destination): never run.

    dlt writes a new pipeline's state (`<pipelines_dir>/xmatters/state.json`) as it creates it, so
    in the real dlt directory loading the definitions left state behind though nothing ran
    (`./var/dlt/...` in whatever directory `dagster dev` started). Its directory goes with it.
    """
    with tempfile.TemporaryDirectory(prefix="baton-xmatters-definitions-") as scratch:
        return raw_pipeline(Path(scratch) / "warehouse.duckdb", pipelines_dir=Path(scratch))


def build_raw_assets() -> dg.AssetsDefinition:
    """Builds the dlt multi-asset; runs load with the warehouse resource's own pipeline."""

    @dlt_assets(
        dlt_source=xmatters_source(PLACEHOLDER_CONFIG),
        dlt_pipeline=definition_pipeline(),
        name="xmatters_raw",
        dagster_dlt_translator=RawTranslator(),
    )
    def xmatters_raw_assets(
        context: dg.AssetExecutionContext,
        dlt: DagsterDltResource,
        xmatters: XmattersResource,
        warehouse: WarehouseResource,
        sync_settings: SyncSettings,
    ) -> Iterator[Any]:
        with reported_if_stopped(context, sync_settings.sync_file):
            yield from _extract(context, dlt, xmatters, warehouse, sync_settings)

    return xmatters_raw_assets


def _extract(
    context: dg.AssetExecutionContext,
    dlt: DagsterDltResource,
    xmatters: XmattersResource,
    warehouse: WarehouseResource,
    sync_settings: SyncSettings,
) -> Iterator[Any]:
    """The raw assets' body: one source per warehouse, then dlt's load, events with the report."""
    config = xmatters.to_config()
    # One warehouse, one source: refused before any request (the CLI checked before the run)
    with warehouse.connect() as con:
        previous = last_source(con)
    require_same_source(
        warehouse.database, previous, xmatters.source(), allow_new=sync_settings.new_source, in_ui=True
    )
    started = datetime.now(UTC)
    report = ExtractReport()
    log.info("extract: reading %s", config.base_url)
    try:
        # started first: it imports while dlt sets up and `/groups` is listed
        with warehouse.load_memory() as fit_rows, _member_calls(context, config) as (member_process, early):
            report.on_wider_rows = fit_rows  # rows of long names need more of DuckDB's memory to load
            source = xmatters_source(
                config,
                report=report,
                sync_emails=sync_settings.sync_emails,
                member_process=member_process,
                early_members=early,
            )
            pipeline = warehouse.dlt_pipeline()
            # shared with every warehouse beside this one (pipelines/xmatters/state_lock.py)
            with pipelines_dir_lock(Path(warehouse.dlt_pipelines_dir)):
                # dlt would load a killed run's pending package instead of extracting
                abort_pending_packages(pipeline)
                for event in dlt.run(context=context, dlt_source=source, dlt_pipeline=pipeline):
                    yield _with_report(event, report, warehouse, started)
        if any(skipped.rows_sent for skipped in report.skipped_groups):
            with warehouse.connect() as con:
                remove_rows_of_skipped_groups(con, report)
        # the extract's batches are freed, but glibc and Arrow keep their pages (~50 MB at L)
        release_unused_memory(collect=False)
    except PipelineStepFailed as exc:
        # dlt wraps the client's classified error several times; surface the one-line cause
        error = find_xmatters_error(exc)
        if error is not None:
            # a 401 names where this run took the credentials: the CLI's flags, or the code location's config
            raise for_run(error, context.run.tags, context.run.run_config) from None
        cause = failed_load_job(exc, report)
        if cause is None:
            raise
        raise cause from None
    for skipped in report.skipped_groups:
        message = skipped.warning()
        context.log.warning(message)
        log.warning("extract: %s", message)
    log.info("extract: %s", report.summary())


@contextmanager
def _member_calls(
    context: dg.AssetExecutionContext, config: XmattersConfig
) -> Iterator[tuple[MemberProcess | None, early_members.EarlyMembers | None]]:
    """The member-call process, when this run materializes the member rows: the `/groups` listing
    hands it each page's groups as the page arrives (`source.OfferedGroups`), which a run of
    `groups` alone must not do (calls nobody reads). The CLI's, started before the run with its
    `/groups` listing (`early_members.py`), when it handed one over; else one started now."""
    early = early_members.take(config)
    if dg.AssetKey([RAW_PREFIX, GROUP_MEMBERS.name]) not in context.selected_asset_keys:
        if early is not None:
            early.stop()
        yield None, None
        return
    if early is not None:
        try:
            yield early.process, early
        finally:
            early.stop()
        return
    with MemberProcess(config) as member_process:
        yield member_process, None


def _with_report(event: Any, report: ExtractReport, warehouse: WarehouseResource, started: datetime) -> Any:
    if isinstance(event, dg.MaterializeResult) and event.asset_key is not None:
        name = event.asset_key.path[-1]
        extra: dict[str, Any] = {
            keys.EXTRACT_STARTED_AT: dg.MetadataValue.timestamp(started),
            "preview": dg.MetadataValue.md(_preview(warehouse, name)),
            "dagster/row_count": dg.MetadataValue.int(report.rows.get(name, 0)),
            "requests": dg.MetadataValue.int(report.requests),
            "retries": dg.MetadataValue.int(report.retries),
        }
        if name == GROUP_MEMBERS.name:
            extra[keys.GROUPS_KEPT_WITHOUT_MEMBERS] = dg.MetadataValue.json(
                [skipped._asdict() for skipped in report.skipped_groups]
            )
        return dg.MaterializeResult(asset_key=event.asset_key, metadata={**(event.metadata or {}), **extra})
    return event


def _preview(warehouse: WarehouseResource, table: str) -> str:
    """The first rows of a freshly loaded raw table, as markdown (empty when it was not created)."""
    with warehouse.connect() as con:
        if not table_exists(con, RAW_PREFIX, table):
            return "(no rows)"
        return markdown_table(con.sql(f"SELECT * FROM {RAW_PREFIX}.{table} LIMIT 5"))
