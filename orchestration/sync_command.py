"""The headless sync: validate the flags, run the Dagster job in-process, print a summary.

It runs the same job as the UI and the schedule, against the persistent Dagster home, so CLI runs
show up in the UI's run history. Credentials travel to the job inside the resource object
(orchestration/resource_settings.py `hardcoded`): never as run config, never in an environment.
"""

from __future__ import annotations

import argparse
import fcntl
import gc
import json
import os
import re
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from expectations import validation_worker
from orchestration import interrupts, log_settings, preflight
from orchestration.deployment_variables import check_deployment_variables
from orchestration.paths import data_paths, user_path
from orchestration.sync_file_lock import sync_file_lock
from orchestration.sync_options import OUTPUT, SyncOptions
from orchestration.sync_source import SourceChangedError, SyncSource, read_last_source, require_same_source
from pipelines.argument_parser import non_empty
from pipelines.import_gc import imports_without_gc
from pipelines.terminal_text import printable, terminal_lines
from pipelines.xmatters import early_members
from pipelines.xmatters.config import XmattersConfig
from pipelines.xmatters.errors import ConfigError, XmattersError
from pipelines.xmatters.file_lock import locked_or_refused
from pipelines.xmatters.settings_table import add_arguments, check, values_from
from pipelines.xmatters.state_lock import pipelines_dir_lock

if TYPE_CHECKING:
    from dagster import DagsterInstance

    from orchestration.run_outcome import RunOutcome

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
PRIVATE_UMASK = 0o077

# Written into a new Dagster home (an existing home's file is left alone). One run at a time:
# DuckDB has one writer. The event log is one SQLite file instead of Dagster's default of one per
# run plus an index: the default opens, creates and migrates a new database for every run and
# writes every asset event twice, which cost ~1.5 s of each sync's start-up and steps.
# EVENT_LOG_YAML is also the UI tests' (tests/ui/webserver.py), so their runs log like the CLI's.
EVENT_LOG_YAML = """event_log_storage:
  module: dagster._core.storage.event_log
  class: ConsolidatedSqliteEventLogStorage
  config:
    base_dir: {history_dir}
telemetry:
  enabled: false
"""
DAGSTER_YAML = (
    """# written by baton-xmatters
concurrency:
  runs:
    max_concurrent_runs: 1
"""
    + EVENT_LOG_YAML
)


def add_sync_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of both settings tables, plus where the warehouse is and how much to log, how."""
    sections = add_arguments(parser, XmattersConfig, SyncOptions)
    sections[OUTPUT].add_argument(
        "--warehouse",
        type=non_empty,
        help="the DuckDB warehouse (default $BATON_XMATTERS_HOME/warehouse.duckdb, home ./var)",
    )
    log_settings.add_log_arguments(parser)


@dataclass(frozen=True)
class SyncPlan:
    """Everything a sync run needs, resolved and validated before any request."""

    config: XmattersConfig
    options: SyncOptions
    sync_file: Path
    warehouse: Path
    dlt_dir: Path
    dagster_home: Path
    lock_file: Path


def plan_from_options(options: argparse.Namespace, env: Mapping[str, str]) -> SyncPlan:
    """Flags over BATON_* variables over defaults, every setting checked (ConfigError names the flag)."""
    flags = vars(options)
    config = XmattersConfig.from_sources(flags, env)
    labels: dict[str, str] = {}
    sync_options = SyncOptions(**values_from(SyncOptions, flags, env, labels))
    check(sync_options, labels)
    paths = data_paths(env)
    sync_file = Path(sync_options.sync_file).expanduser().resolve()
    file_label = "BATON_FILE" if labels.get("sync_file") == "BATON_FILE" else "-f/--file"  # what gave it
    _refuse_directory_name(sync_options.sync_file, file_label, ".c1z file to write", sync_file / "sync.c1z")
    _require_writable_dir(sync_file.parent, file_label)
    warehouse = user_path(options.warehouse) if options.warehouse else paths.warehouse
    if options.warehouse:
        example = warehouse / "warehouse.duckdb"
        _refuse_directory_name(options.warehouse, "--warehouse", "DuckDB file", example)
    _require_writable_dir(warehouse.parent, "--warehouse")
    preflight.check_warehouse_file(warehouse)  # first: `--warehouse sync.c1z` is not a database
    preflight.check_sync_file(sync_file, warehouse, file_label)
    return SyncPlan(
        config=config,
        options=replace(sync_options, sync_file=str(sync_file)),
        sync_file=sync_file,
        warehouse=warehouse,
        dlt_dir=warehouse.parent / "dlt",
        dagster_home=Path(env["DAGSTER_HOME"]) if env.get("DAGSTER_HOME") else paths.dagster_home,
        lock_file=warehouse.with_name(warehouse.name + ".lock"),
    )


def run_sync(
    options: argparse.Namespace, tags: Mapping[str, str] | None = None, env: Mapping[str, str] | None = None
) -> int:
    """The sync from parsed options; `tags` (default: started by the CLI) go on the Dagster run; `env`
    stands in for this process's environment (the demo's homes)."""
    try:
        plan = plan_from_options(options, os.environ if env is None else env)
    except XmattersError as exc:
        return fail(str(exc), EXIT_USAGE)
    started = time.monotonic()
    # The warehouse, dlt's state and the run history describe who may access what: owner only.
    previous_umask = os.umask(PRIVATE_UMASK)
    try:
        with (
            interrupts.exit_on_signal(),
            sync_lock(plan.lock_file, plan.warehouse),
            sync_file_lock(plan.sync_file),  # another warehouse's sync may name the same -f
            pipelines_dir_lock(plan.dlt_dir),  # shared with every warehouse beside this one
            interrupts.at_interrupt(lambda: remove_stale_temporaries(plan.sync_file)),
        ):
            preflight.check_warehouse_unlocked(plan.warehouse)
            require_same_source(
                str(plan.warehouse),
                read_last_source(plan.warehouse),
                SyncSource.of(plan.config.base_url, plan.config.username),
                allow_new=plan.options.new_source,
            )
            # the source is checked: the member calls start now, while Dagster is imported, and
            # the raw step takes them over (pipelines/xmatters/early_members.py)
            check_deployment_variables()  # before the first request, which comes next
            with early_members.started(plan.config):
                remove_stale_temporaries(plan.sync_file)
                restrict_to_owner(plan.warehouse, plan.warehouse.with_name(plan.warehouse.name + ".wal"))
                outcome = execute(plan, tags)
    except SourceChangedError as exc:  # nothing was requested or written
        return fail(str(exc), EXIT_USAGE)
    except ConfigError as exc:  # a BATON_XMATTERS_* variable the definitions refused: before the run
        return fail(str(exc), EXIT_USAGE)
    except XmattersError as exc:
        return fail(str(exc), EXIT_FAILED)
    finally:
        os.umask(previous_umask)
    elapsed = time.monotonic() - started
    if not outcome.success:
        return fail(outcome.error or "the sync failed", EXIT_FAILED)
    print(terminal_lines(outcome.render_summary(plan.config.base_url, plan.warehouse, elapsed)))
    return EXIT_OK


def execute(plan: SyncPlan, tags: Mapping[str, str] | None = None) -> RunOutcome:
    """Runs the job in-process on the persistent instance and reads its outcome.

    Dagster is imported here, not with the module: parsing and checking the flags (and `--help`)
    do not need it.
    """
    # Frozen as the block ends, not first by `bulk_allocation_gc` below: re-enabled with those
    # ~450,000 new objects unfrozen, the collector's next pass walked them all (0.1-0.17 s at M)
    with imports_without_gc(freeze_after=True):
        import dlt
        from dagster._core.utils import make_new_run_id

        from orchestration import run_tags
        from orchestration.history_commits import history_without_disk_waits
        from orchestration.jobs import SYNC_JOB_NAME
        from orchestration.resource_settings import hardcoded
        from orchestration.resources import (
            ExpectationsResource,
            SyncSettings,
            WarehouseResource,
            XmattersResource,
        )
        from orchestration.run_origin import runs_of_code_location
        from orchestration.run_outcome import summarize_run
        from orchestration.run_warehouse import warehouse_tag
        from orchestration.wiring import build_definitions  # not .definitions: its `defs` is a second build

        # warm-up: the run's ExpectationsResource starts it anyway; started here, it imports GX on
        # the other core while this process builds the definitions and the run, and while the
        # extract runs. Not earlier: beside this process's imports, the early member calls and the
        # server, a fourth busy process delayed those imports more than the checks gained
        # (docs/benchmarks.md, sixteenth round)
        validation_worker.start()

        ensure_dagster_home(plan.dagster_home)
        defs = build_definitions(
            {
                # the object itself, not config: the password stays in this process's memory
                "xmatters": hardcoded(XmattersResource(**asdict(plan.config))),
                "warehouse": WarehouseResource(
                    database=str(plan.warehouse), dlt_pipelines_dir=str(plan.dlt_dir)
                ),
                "sync_settings": SyncSettings(**asdict(plan.options)),
                # one run in this process: the worker's memory goes before the .c1z write
                "expectations": ExpectationsResource(stop_after_checks=True),
            }
        )
        job = defs.resolve_job_def(SYNC_JOB_NAME)
    dlt.config["runtime.dlthub_telemetry"] = False  # nothing leaves the machine but the API calls
    run_id = make_new_run_id()
    with (
        bulk_allocation_gc(),
        history_without_disk_waits(plan.dagster_home),
        cli_instance(plan.dagster_home) as instance,
        runs_of_code_location(instance, SYNC_JOB_NAME),  # the UI's Re-execute runs it there
        interrupts.at_interrupt(lambda: report_interrupted(instance, run_id)),
        signal_handlers_kept_from_dagster(),
    ):
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_id=run_id,
            # the warehouse at launch too: a re-execution compares its own with it (run_warehouse)
            tags={**(run_tags.CLI if tags is None else tags), **warehouse_tag(plan.warehouse)},
            run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
        )
        if not result.success:
            prune_after_failure(instance, plan)
        return summarize_run(result)


def prune_after_failure(instance: DagsterInstance, plan: SyncPlan) -> None:
    """The run history's retention after a sync that failed (orchestration/run_retention.py).

    A sync prunes in its last step, `c1_access_changes`, which a failed sync never reaches: a
    schedule failing for weeks (credentials expired) added a run every time and deleted none until
    a sync published again. The run's own end pruned too (orchestration/run_end_retention.py), while
    it was still running: this pass, once it has finished, leaves N failures rather than N + 1, and
    says an error on stderr as one warning line, after the sync's own."""
    from orchestration import run_retention
    from orchestration.checks.per_table import table_checks
    from orchestration.run_warehouse import warehouse_path

    checks = [key for checks in table_checks for key in checks.check_keys]
    warehouse = warehouse_path(plan.warehouse)
    _, warning = run_retention.prune_or_warn(
        instance, plan.options.history_retention, checks, warehouse=warehouse
    )
    if warning is not None:
        print(f"baton-xmatters: warning: {warning}", file=sys.stderr)


def cli_instance(dagster_home: Path) -> DagsterInstance:
    """The persistent instance, without capturing the steps' stdout and stderr into files.

    Dagster's default compute-log manager starts two `tail` processes and two Python watchers per run
    to copy the captured output back to the terminal; the CLI's output goes to the terminal anyway,
    and those four processes each took Ctrl-C with a traceback of their own. The event log and the
    run storage keep one SQLite engine each for the run (orchestration/pooled_sqlite.py), not one
    per call; the schedule storage, which a sync never reads, opens its file only if something
    does (orchestration/deferred_schedules.py).
    """
    from dagster import DagsterInstance
    from dagster._core.instance.config import dagster_instance_config
    from dagster._core.instance.ref import InstanceRef

    from orchestration.deferred_schedules import deferred_overrides
    from orchestration.pooled_sqlite import pooled_overrides

    config = dagster_instance_config(str(dagster_home))[0]
    overrides: dict[str, object] = {
        "compute_logs": {
            "module": "dagster._core.storage.noop_compute_log_manager",
            "class": "NoOpComputeLogManager",
        },
        **pooled_overrides(str(dagster_home), config),
        **deferred_overrides(str(dagster_home), config),
    }
    ref = InstanceRef.from_dir(str(dagster_home), overrides=overrides)  # type: ignore[arg-type]
    return DagsterInstance.from_ref(ref)


@contextmanager
def signal_handlers_kept_from_dagster() -> Iterator[None]:
    """Keeps Dagster from replacing the SIGINT handler while the job runs in this process.

    `execute_in_process` swaps in handlers of its own (dagster `_utils/interrupts.py`): one that
    raises `DagsterExecutionInterruptedError` in the step, which Dagster records as a step and run
    failure. Under load that failure could be written after the watcher of `interrupts.py` marked
    the run canceled and before it ended the process, so an interrupted run read FAILURE. The
    watcher alone acts on the signal; the main thread's handler stays the one that does nothing.
    Dagster's helper is private API: `tests/orchestration/test_sync_signals.py` notices a change.
    """
    from dagster._utils import interrupts as dagster_interrupts

    replace = dagster_interrupts._replace_interrupt_signal
    dagster_interrupts._replace_interrupt_signal = lambda handler: None
    try:
        yield
    finally:
        dagster_interrupts._replace_interrupt_signal = replace


def report_interrupted(instance: DagsterInstance, run_id: str) -> None:
    """Marks an interrupted CLI run canceled, so the UI does not show it running forever."""
    run = instance.get_run_by_id(run_id)
    if run is not None and not run.is_finished:
        instance.report_run_canceled(run, message="interrupted (Ctrl-C or SIGTERM) in baton-xmatters")


@contextmanager
def bulk_allocation_gc() -> Iterator[None]:
    """Keeps the cyclic GC from rescanning millions of long-lived objects during a sync.

    A sync allocates rows by the million (JSON items, tuples, Arrow batches) that hold no reference
    cycles; with default thresholds the collector walks the whole heap over and over (measured: a
    third of the 1M-membership extract). Freezing what exists after start-up and collecting less
    often leaves correctness alone and restores the defaults afterwards. No collection before
    the freeze: it costs ~0.5 s over the imported modules and would free little.
    """
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(50_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def ensure_dagster_home(home: Path) -> None:
    """Writes a new home's dagster.yaml; one we wrote for another path follows its home.

    The event log's directory is an absolute path: a home moved (a restored backup, a volume
    mounted elsewhere) or copied kept logging its runs into the old place, recreated if gone, and
    the UI showed its runs without events. A file that is ours but for that path is rewritten for
    this home; one edited in any other way is the user's and left as it is.
    """
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    wanted = _dagster_yaml(home)
    if not config.exists():
        config.write_text(wanted, encoding="utf-8")
        return
    text = config.read_text(encoding="utf-8")
    if text != wanted and _BASE_DIR.sub("", text) == _BASE_DIR.sub("", wanted):
        pending = config.with_name(config.name + ".pending")
        pending.write_text(wanted, encoding="utf-8")
        os.replace(pending, config)


_BASE_DIR = re.compile(r"^    base_dir: .*$", re.MULTILINE)


def _dagster_yaml(home: Path) -> str:
    history_dir = json.dumps(str(home / "history"))  # a JSON string is a quoted YAML scalar
    return DAGSTER_YAML.format(history_dir=history_dir)


@contextmanager
def sync_lock(lock_file: Path, warehouse: Path) -> Iterator[None]:
    """One sync per warehouse at a time: a second one fails at once with a clear message."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    refused = (
        f"another sync is running against {warehouse} (lock {lock_file}), or baton-xmatters sql or "
        "diff is reading it; try again when it ends"
    )
    with locked_or_refused(lock_file, refused) as handle:
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def remove_stale_temporaries(sync_file: Path) -> None:
    """Remove what a killed run left beside the target: `<file>.pending` and the writer's temp files.

    Only called under the warehouse lock, so no live sync of this warehouse is writing them. The
    names are the ones `c1_sync` and the `.c1z` writer use: `<file>.pending`, `.<file>.pending.*tmp`
    and `.<file>.*tmp` (mkstemp names, never a user's file).
    """
    directory = sync_file.parent
    if not directory.is_dir():
        return
    stale = [sync_file.with_name(sync_file.name + ".pending"), *directory.glob(f".{sync_file.name}.*tmp")]
    for path in stale:
        with suppress(FileNotFoundError):
            path.unlink()


def restrict_to_owner(*paths: Path) -> None:
    """Make files created by an earlier, more permissive version readable by their owner only."""
    for path in paths:
        with suppress(FileNotFoundError):
            if path.stat().st_mode & 0o077:
                path.chmod(0o600)


def _refuse_directory_name(given: str, flag: str, what: str, example: Path) -> None:
    """A path given with a trailing '/' means a directory: `-f outdir/` wrote a .c1z named `outdir`,
    `--warehouse whdir/` a DuckDB file named `whdir`."""
    if given.endswith(("/", os.sep)):
        raise XmattersError(
            f"{flag}: {given!r} ends in '/', which names a directory; name the {what}, e.g. {example}"
        )


def _require_writable_dir(directory: Path, flag: str) -> None:
    probe = directory
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise XmattersError(f"{flag}: cannot write to {directory}")


def fail(message: str, code: int) -> int:
    print(f"baton-xmatters: error: {printable(message)}", file=sys.stderr)
    return code


def build_options(**overrides: object) -> argparse.Namespace:
    """The options of a sync as if parsed from a command line with only `overrides` given."""
    parser = argparse.ArgumentParser()
    add_sync_arguments(parser)
    options = parser.parse_args([])
    for key, value in overrides.items():
        setattr(options, key, value)
    return options
