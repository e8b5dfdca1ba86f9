"""Dagster resources: the xMatters connection, the warehouse, the expectations worker and the settings.

The config fields of `XmattersResource` and `SyncSettings` derive from their settings tables
(`XmattersConfig`, `SyncOptions`). In the code location the credentials are the names of BATON_*
variables (`resource_settings.from_environment`; the password takes nothing else, so a value typed
into the Launchpad is refused before Dagster stores the run): it loads without them, and their
values never appear in the UI, the run config or the event log. The CLI hands its in-process run
the resource object instead (`resource_settings.hardcoded`), so the values stay in its memory:
never in its environment, in its children's, or in the run's stored job snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow as pa
from dlt import Pipeline
from pydantic import Field, PrivateAttr

from expectations import validation_worker
from expectations.outcome import SuiteOutcome
from orchestration import run_warehouse
from orchestration.load_memory import LoadMemory
from orchestration.preflight import warehouse_held_message
from orchestration.resource_settings import config_labels, settings_of, settings_resource
from orchestration.run_end_retention import prune_at_run_end
from orchestration.run_tags import tag_run
from orchestration.sync_options import SyncOptions
from orchestration.sync_source import SyncSource
from pipelines import unused_warehouse
from pipelines.xmatters.config import XmattersConfig
from pipelines.xmatters.errors import XmattersError
from pipelines.xmatters.loader import raw_pipeline
from pipelines.xmatters.settings_table import check

XMATTERS = "xmatters"  # the resource key of `XmattersResource` (orchestration/wiring.py)


class XmattersResource(settings_resource(XmattersConfig)):  # type: ignore[misc]
    """Where and as whom to read xMatters (read-only): the settings of `XmattersConfig` as config.

    The password is `{env: BATON_PASSWORD}` in the code location (the UI, the schedule, sensors,
    re-executions), a variable's name, never a value (`resource_settings.from_environment`); the
    CLI hands its run the resource itself, so no value of it is stored with the run
    (`resource_settings.hardcoded`).
    """

    def to_config(self) -> XmattersConfig:
        """Validates the settings before any request is made (raises ConfigError), naming a bad one
        by its config field (the CLI validated its flags before its run, naming them)."""
        return settings_of(self, XmattersConfig).validate(config_labels(XMATTERS, XmattersConfig))

    def source(self) -> SyncSource:
        """Which tenant this reads (normalized base URL and account; never the password)."""
        return SyncSource.of(self.base_url, self.username)


# DuckDB's buffer pool of the run's connection (dlt's load shares the database): beyond it DuckDB
# evicts cached blocks and spills to `<warehouse>.tmp`. At 512 MB it kept what the load and the
# transforms had read, ~450 MB at scale L, through the checks and the .c1z write. 256 MB: the
# memberships sort spills a little (L transforms alone 4.0 -> 5.1 s of CPU; 7.1 s at 128 MB). During
# dlt's load (`load_memory`) 128 MB, more for rows of long names (orchestration/load_memory.py): the
# member-call and GX processes idle beside it, and at 256 MB that phase took the L tree just over
# 1 GiB. 128 MB for the whole run failed one test sync once with DuckDB's "failed to pin block"
# after the write (docs/benchmarks.md, tenth round).
RUN_MEMORY_LIMIT = "256MB"


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file and the dlt pipeline that loads its raw layer.

    During a run one connection stays open from set-up to teardown and each step gets a cursor of
    it: opening the file and closing it (a checkpoint) in every one of a sync's ~17 steps cost
    ~0.1 s each. Outside a run (tests, notebooks) `connect` opens a connection of its own.
    """

    database: str = Field(description="path of the DuckDB file")
    dlt_pipelines_dir: str = Field(description="where dlt keeps its pipeline state")
    _run_connection: duckdb.DuckDBPyConnection | None = PrivateAttr(default=None)
    _created_by_run: bool = PrivateAttr(default=False)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        tag_run(context)  # every step uses the warehouse: the run's first set-up tags it
        # before the file is opened: a re-execution of a run on another warehouse fails here
        run_warehouse.check_and_tag(context, Path(self.database))
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        self._created_by_run = not Path(self.database).exists()
        try:
            self._run_connection = duckdb.connect(self.database)
        except duckdb.Error as exc:
            held = warehouse_held_message(Path(self.database), exc)
            if held is None:
                raise
            raise XmattersError(held) from None  # the CLI's line, not DuckDB's "open it read-only"
        # An open database keeps what it read cached up to memory_limit (80% of RAM by default)
        self._run_connection.execute(f"SET memory_limit = '{RUN_MEMORY_LIMIT}'")

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        connection, self._run_connection = self._run_connection, None
        if connection is None:
            return
        # a run that created the file and wrote nothing (a first sync refused with HTTP 401) leaves
        # no empty warehouse behind to be taken for a real one (pipelines/unused_warehouse.py)
        unused = self._created_by_run and unused_warehouse.holds_nothing(connection)
        connection.close()
        if unused:
            unused_warehouse.remove(Path(self.database))

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

    @contextmanager
    def load_memory(self) -> Iterator[Callable[[int], None]]:
        """DuckDB's limit for dlt's extract and load (`LoadMemory`), back to RUN_MEMORY_LIMIT
        after them; yields `fit_rows(widest_row_bytes)` for `ExtractReport.on_wider_rows`. Outside
        a run (no run connection) nothing to set."""
        connection = self._run_connection
        if connection is None:
            yield lambda _: None
            return
        with LoadMemory(connection, RUN_MEMORY_LIMIT) as memory:
            yield memory.fit_rows

    def dlt_pipeline(self) -> Pipeline:
        return raw_pipeline(Path(self.database), pipelines_dir=Path(self.dlt_pipelines_dir))


class ExpectationsResource(dg.ConfigurableResource):
    """Runs the GX suites in a worker process (expectations/worker.py): the worker's one owner in a run.

    Set up when the run starts, so the worker imports GX on the other core while the extract runs;
    the checks then only send it their tables, and `c1_sync` tells it when they are done.
    """

    stop_after_checks: bool = Field(
        default=False,
        description="stop the worker once the checks have run: a process that runs one sync (the CLI) "
        "frees its memory before the .c1z write; a process that runs many keeps it and imports GX once",
    )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        validation_worker.start()

    def validate(self, table: str, rows: pa.RecordBatchReader) -> tuple[SuiteOutcome, int]:
        """(outcome, rows validated) of the suite of the `c1` table `table`."""
        return validation_worker.shared().validate(table, rows)

    def checks_done(self) -> None:
        """The run's checks have run. Idle, the worker still holds GX, pandas and its allocator's
        pages (~0.55 GB after validating a million grants) through the `.c1z` write, the run's
        memory peak: stopped now when `stop_after_checks`."""
        if self.stop_after_checks:
            validation_worker.stop_shared()


SYNC_SETTINGS = "sync_settings"  # the resource key of `SyncSettings` (orchestration/wiring.py)


class SyncSettings(settings_resource(SyncOptions)):  # type: ignore[misc]
    """What the sync produces and how strictly it guards publishing (overridable per run)."""

    _history_pruned: bool = PrivateAttr(default=False)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Refuses what the CLI refuses (`--max-drop 5`) before the run reads anything: Dagster checks
        a launchpad value's type only, and `max_drop_ratio: -0.3` would block every sync. The error
        names the config field (the CLI checked its flags before its run, naming them)."""
        check(settings_of(self, SyncOptions), config_labels(SYNC_SETTINGS, SyncOptions))

    def history_pruned(self) -> None:
        """This run's `c1_access_changes` pruned the run history: its end does not again."""
        self._history_pruned = True

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        """The run history's retention at the end of every run, a failed one too
        (orchestration/run_end_retention.py)."""
        if not self._history_pruned:
            prune_at_run_end(context, self.history_retention)
