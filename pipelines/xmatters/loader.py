"""Load one xMatters snapshot into the `xmatters_raw` dataset of a DuckDB file.

The previous snapshot is replaced only when the extract succeeded: dlt extracts everything before
it loads anything, and `replace_strategy="insert-from-staging"` loads into `xmatters_raw_staging`
first and then replaces each raw table from staging in a transaction, so a failure never leaves
an emptied table behind. Failures surface as the classified `XmattersError`, not dlt's wrapper.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TypeVar

import dlt
import duckdb
from dlt.common.pipeline import LoadInfo
from dlt.load.exceptions import LoadClientJobException
from dlt.pipeline.exceptions import PipelineStepFailed
from dlt.pipeline.pipeline import Pipeline

from pipelines.xmatters.config import XmattersConfig
from pipelines.xmatters.errors import XmattersError
from pipelines.xmatters.report import ExtractReport
from pipelines.xmatters.settings import DATASET_NAME, GROUP_MEMBERS, PIPELINE_NAME, SOURCE_NAME
from pipelines.xmatters.source import xmatters_source
from pipelines.xmatters.state_lock import pipelines_dir_lock

E = TypeVar("E", bound=BaseException)

logger = logging.getLogger(__name__)

REPLACE_STRATEGY = "insert-from-staging"


def duckdb_destination(warehouse_path: Path) -> dlt.destinations.duckdb:
    """The DuckDB destination with the staging replace strategy (for `raw_pipeline`, which both the
    standalone loader and the Dagster raw assets run)."""
    return dlt.destinations.duckdb(str(warehouse_path), replace_strategy=REPLACE_STRATEGY)


def raw_pipeline(warehouse_path: Path, *, pipelines_dir: Path | None = None) -> Pipeline:
    """The `xmatters` pipeline writing dataset `xmatters_raw` into `warehouse_path`.

    Each table the source yields is written as its own Parquet row group: dlt's extract buffer
    (5,000 items by default) joined small tables until they held 5,000 rows, and 5,000 rows of
    100 KB names made 500 MB row groups, which DuckDB could not insert within the raw step's
    128 MB (`Out of Memory Error`, the sync failed). The source's tables are already sized for the
    load, by rows and by bytes (`source.joined_tables`).
    """
    dlt.config[f"sources.{SOURCE_NAME}.data_writer.buffer_max_items"] = 1
    return dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        destination=duckdb_destination(warehouse_path),
        dataset_name=DATASET_NAME,
        pipelines_dir=str(pipelines_dir) if pipelines_dir is not None else None,
    )


def abort_pending_packages(pipeline: Pipeline) -> None:
    """Abort the load packages an earlier run left pending (killed or failed in normalize or load).

    dlt's `Pipeline.run` loads a pending package *instead of* extracting, so a run after a kill
    would load the killed run's older snapshot and extract nothing. dagster-dlt happens to drop
    the local state before each run, but the raw asset must not rest on that, so both it and
    `load_raw` call this.
    With nothing pending it costs ~0.5 ms (dlt's storages set up, two empty folders listed).
    """
    if not pipeline.has_pending_data:
        return
    plan = pipeline.abort_packages()
    if plan is None:
        return
    aborted = plan["package_to_abort"]
    load_ids = sorted(
        {*plan["packages_to_delete"], *plan["extracted_packages_to_delete"]}
        | ({aborted["load_id"]} if aborted else set())
    )
    logger.info("dlt: dropped the pending load package(s) %s an earlier run left", ", ".join(load_ids))


def load_raw(
    config: XmattersConfig,
    warehouse_path: Path,
    *,
    pipelines_dir: Path | None = None,
    report: ExtractReport | None = None,
) -> LoadInfo:
    """Extract xMatters and replace the raw tables; raise the classified `XmattersError` on failure.

    The config is validated before anything else, so a bad setting costs no request. Packages left
    pending by an earlier failed run are dropped: they hold an older snapshot than the one taken now.
    """
    config.validate()
    report = report if report is not None else ExtractReport()
    warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    pipeline = raw_pipeline(warehouse_path, pipelines_dir=pipelines_dir)
    try:
        with pipelines_dir_lock(Path(pipeline.pipelines_dir)):
            abort_pending_packages(pipeline)
            info = pipeline.run(xmatters_source(config=config, report=report))
    except PipelineStepFailed as exc:
        cause = find_xmatters_error(exc)
        if cause is None:
            raise
        error = cause
    else:
        info.raise_on_failed_jobs()
        if any(skipped.rows_sent for skipped in report.skipped_groups):
            with duckdb.connect(str(warehouse_path)) as con:
                remove_rows_of_skipped_groups(con, report)
        logger.info("xmatters_raw loaded into %s: %s", warehouse_path, report.summary())
        return info
    raise error


def remove_rows_of_skipped_groups(con: duckdb.DuckDBPyConnection, report: ExtractReport) -> int:
    """Removes the loaded member rows of groups deleted while their long listing was read.

    Why here: a listing of more than `member_calls.HELD_MEMBER_ITEMS` items hands its rows on as
    they come (memory stays bounded), so a 404 on a later page finds some already on their way to
    the raw table. A deleted group is kept with no memberships, whatever its length; the report's
    row count already left them out (`source._member_tables`).
    """
    groups = [skipped.group_id for skipped in report.skipped_groups if skipped.rows_sent]
    if not groups:
        return 0
    removed = con.execute(
        f"DELETE FROM {DATASET_NAME}.{GROUP_MEMBERS.name} WHERE list_contains(?, group_id)", [groups]
    ).fetchone()
    count = int(removed[0]) if removed else 0
    logger.info("removed %d member rows of %d groups deleted while they were read", count, len(groups))
    return count


class LoadFailed(Exception):
    """A raw table that DuckDB could not load, in one line (`failed_load_job`)."""


_ERROR_LINE = re.compile(r"^[\w.]+(?:Error|Exception): (?P<message>\S.*)$")


def failed_load_job(exc: BaseException, report: ExtractReport | None = None) -> LoadFailed | None:
    """The raw table whose load failed and DuckDB's reason, from dlt's chain of wrappers, if any.

    dlt's own line was `Job with job_id=people.9b879f7dcc.parquet had 5 retries which is a multiple
    of max_retry_count=5. Exiting retry loop. You can still rerun the load package ... Last failure
    message was: Traceback (most recent call last):`: neither the table by name nor the reason.
    With the extract's `report`, the line adds the table's widest text field and its size.
    """
    job = _in_chain(exc, LoadClientJobException)
    if job is None:
        return None
    table = str(getattr(job, "job_id", "") or "?").split(".")[0]
    lines = str(getattr(job, "failed_message", "") or job).splitlines()
    reasons = [m.group("message") for line in lines if (m := _ERROR_LINE.match(line.strip()))]
    reason = reasons[-1] if reasons else (lines[0] if lines else type(job).__name__)
    widest = report.widest.get(table) if report is not None else None
    field = f"; its widest field: {widest[0]}, {widest[1]:,} bytes" if widest else ""
    return LoadFailed(f"loading {DATASET_NAME}.{table} into DuckDB failed: {reason}{field}")


def find_xmatters_error(exc: BaseException) -> XmattersError | None:
    """The `XmattersError` somewhere in dlt's chain of wrappers, if any."""
    return _in_chain(exc, XmattersError)


def _in_chain(exc: BaseException, kind: type[E]) -> E | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
