"""Dagster resources: the xMatters connection, the warehouse, the expectations worker and the settings.

Credentials reach Dagster only as `EnvVar("BATON_*")` references, resolved at launch: the code
location loads without them, and their values never appear in the UI, the run config or the
event log. The CLI puts its flags into those variables of its own process before it launches.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow as pa
from dlt import Pipeline
from pydantic import Field, PrivateAttr

from expectations import validation_worker
from expectations.outcome import SuiteOutcome
from orchestration.run_tags import tag_run
from orchestration.sync_source import SyncSource
from pipelines.xmatters import settings
from pipelines.xmatters.config import XmattersConfig
from pipelines.xmatters.loader import raw_pipeline


class XmattersResource(dg.ConfigurableResource):
    """Where and as whom to read xMatters (read-only). Secrets come from `BATON_*` variables."""

    base_url: str = Field(description="e.g. https://company.xmatters.com/api/xm/1 (BATON_BASE_URL)")
    username: str = Field(description="user name, or x-api-key-<id> for an API key (BATON_USERNAME)")
    password: str = Field(description="password or API key secret (BATON_PASSWORD)")
    ca_bundle: str | None = Field(
        default=None, description="CA bundle for a private CA (TLS is always verified)"
    )
    allow_insecure_http: bool = Field(
        default=False,
        description="allow plain http to a host other than loopback (never do this in production)",
    )
    concurrency: int = Field(default=8, description="member calls in flight at once")
    timeout_s: float = Field(
        default=settings.DEFAULT_TIMEOUT_S, description="seconds to wait for a connection or a response"
    )
    max_attempts: int = Field(
        default=settings.DEFAULT_MAX_ATTEMPTS, description="attempts per request for 429, 5xx, network errors"
    )
    backoff_cap_s: float = Field(
        default=settings.DEFAULT_BACKOFF_CAP_S,
        description="longest wait between attempts, also for a longer Retry-After",
    )
    page_size: int = Field(default=settings.DEFAULT_PAGE_SIZE, description="items per page (at most 1000)")
    max_response_mib: float = Field(
        default=settings.DEFAULT_MAX_RESPONSE_MIB, description="refuse a larger decoded response body (MiB)"
    )
    max_pages: int = Field(
        default=settings.DEFAULT_MAX_PAGES,
        description="most pages of one listing (fewer when its first page states a total)",
    )

    def to_config(self) -> XmattersConfig:
        """Validates the settings before any request is made (raises ConfigError)."""
        return XmattersConfig(
            base_url=self.base_url,
            username=self.username,
            password=self.password,
            ca_bundle=self.ca_bundle,
            allow_insecure_http=self.allow_insecure_http,
            concurrency=self.concurrency,
            timeout_s=self.timeout_s,
            max_attempts=self.max_attempts,
            backoff_cap_s=self.backoff_cap_s,
            page_size=self.page_size,
            max_response_mib=self.max_response_mib,
            max_pages=self.max_pages,
        ).validate()

    def source(self) -> SyncSource:
        """Which tenant this reads (normalized base URL and account; never the password)."""
        return SyncSource.of(self.base_url, self.username)


RUN_MEMORY_LIMIT = "512MB"  # DuckDB spills to disk beyond it


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file and the dlt pipeline that loads its raw layer.

    During a run one connection stays open from set-up to teardown and each step gets a cursor of
    it: opening the file and closing it (a checkpoint) in every one of a sync's ~17 steps cost
    ~0.1 s each. Outside a run (tests, notebooks) `connect` opens a connection of its own.
    """

    database: str = Field(description="path of the DuckDB file")
    dlt_pipelines_dir: str = Field(description="where dlt keeps its pipeline state")
    _run_connection: duckdb.DuckDBPyConnection | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        tag_run(context)  # every step uses the warehouse: the run's first set-up tags it
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        self._run_connection = duckdb.connect(self.database)
        # An open database keeps what it read cached up to memory_limit (80% of RAM by default),
        # on top of the rows the .c1z writer holds: at a million memberships that was +0.4 GB.
        self._run_connection.execute(f"SET memory_limit = '{RUN_MEMORY_LIMIT}'")

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        connection, self._run_connection = self._run_connection, None
        if connection is not None:
            connection.close()

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self._run_connection is not None:
            cursor = self._run_connection.cursor()
            try:
                yield cursor
            finally:
                cursor.close()
            return
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(self.database)
        try:
            yield con
        finally:
            con.close()

    def dlt_pipeline(self) -> Pipeline:
        return raw_pipeline(Path(self.database), pipelines_dir=Path(self.dlt_pipelines_dir))


class ExpectationsResource(dg.ConfigurableResource):
    """Runs the GX suites in a worker process (expectations/worker.py) started with the run.

    Set up when the run starts, so the worker imports GX on the other core while the extract runs;
    the checks then only send it their tables.
    """

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        validation_worker.start()

    def validate(self, table: str, rows: pa.RecordBatchReader) -> tuple[SuiteOutcome, int]:
        """(outcome, rows validated) of the suite of the `c1` table `table`."""
        return validation_worker.shared().validate(table, rows)


class SyncSettings(dg.ConfigurableResource):
    """What the sync produces and how strictly it guards publishing (overridable per run)."""

    sync_file: str = Field(description="where the .c1z is written (baton's -f)")
    max_drop_ratio: float = Field(
        default=0.5,
        description="block publishing when users or grants drop by more than this share since the last "
        "published sync (a permission change on the API account looks exactly like that); 1.0 disables",
    )
    expand_nested_groups: bool = Field(
        default=False, description="report nested groups as expandable grants (C1 expands them)"
    )
    sync_emails: bool = Field(default=False, description="add people's EMAIL devices as user emails")
    history_retention: int = Field(default=30, description="published syncs kept in the warehouse history")
    new_source: bool = Field(
        default=False,
        description="allow a sync of another xMatters base URL or account than the warehouse's last sync "
        "(otherwise refused); change history and the sudden-drop check start over from it",
    )
