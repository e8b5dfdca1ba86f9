"""Load xMatters people, groups and memberships into DuckDB (`xmatters_raw`): the raw layer alone.

A runnable example of the `xmatters` dlt source and a standalone raw loader:

    # against a real instance (flags, or BATON_BASE_URL / BATON_USERNAME / BATON_PASSWORD)
    python -m pipelines.xmatters_pipeline --base-url https://company.xmatters.com/api/xm/1 \\
        --username x-api-key-... --password-file ~/.xmatters-secret

    # through dlt's own configuration: [sources.xmatters] in .dlt/config.toml and .dlt/secrets.toml
    # of the working directory, or SOURCES__XMATTERS__BASE_URL / __USERNAME / __XMATTERS_PASSWORD
    python -m pipelines.xmatters_pipeline

    # against the embedded simulator, no credentials needed
    python -m pipelines.xmatters_pipeline --simulate

Flags win over BATON_* variables; dlt's configuration is used when neither gives any of the base
URL, user name or password (mixing the two would make it unclear which instance is read).

Then query: duckdb -readonly var/warehouse.duckdb "select count(*) from xmatters_raw.group_members"
Exit status 0 on success; otherwise one line `xmatters_pipeline: error: <cause>` on stderr, exit 2
for a bad flag or setting (nothing was requested) and 1 for a failed load, as `baton-xmatters`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from dlt.pipeline.exceptions import PipelineStepFailed

from pipelines import unused_warehouse
from pipelines.argument_parser import OneLineErrorParser, non_empty
from pipelines.data_home import data_home
from pipelines.duckdb_lock import lock_holder
from pipelines.terminal_text import printable
from pipelines.xmatters.config import XmattersConfig, dlt_configured
from pipelines.xmatters.errors import (
    CREDENTIALS_HINT,
    DLT_CREDENTIALS_HINT,
    PREFIX,
    ConfigError,
    XmattersError,
    dlt_keys,
)
from pipelines.xmatters.loader import failed_load_job, load_raw
from pipelines.xmatters.report import ExtractReport
from pipelines.xmatters.settings_table import add_arguments, declared, given

# The same layout as the full sync (orchestration/paths.py): everything under BATON_XMATTERS_HOME.
DEFAULT_HOME = data_home(os.environ)

logger = logging.getLogger("pipelines.xmatters_pipeline")


PROG = "python -m pipelines.xmatters_pipeline"
COMMAND = "xmatters_pipeline"  # what its error lines start with, as `baton-xmatters: error: ...`
EXIT_FAILED = 1
EXIT_USAGE = 2  # a bad flag or setting: nothing was requested (as the CLI)
PRIVATE_UMASK = 0o077  # the warehouse and dlt's state hold who may access what: owner only, as the CLI


def user_path(text: str) -> Path:
    """A path flag as given, `~` expanded (a quoted flag or an env file leaves it to us), absolute:
    dlt hands DuckDB a relative path against a directory of its own choosing."""
    return Path(non_empty(text)).expanduser().resolve()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The flags; a bad one is one line `xmatters_pipeline: error: ...`, exit 2 (as `baton-xmatters`)."""
    parser = OneLineErrorParser(prog=PROG, command=COMMAND, description=__doc__.splitlines()[0])
    add_arguments(parser, XmattersConfig)
    parser.add_argument(
        "--warehouse",
        type=user_path,
        default=DEFAULT_HOME / "warehouse.duckdb",
        help="DuckDB file",
    )
    parser.add_argument(
        "--pipelines-dir",
        type=user_path,
        default=DEFAULT_HOME / "dlt",
        help="dlt working directory",
    )
    parser.add_argument("--simulate", action="store_true", help="extract from an embedded xMatters simulator")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def connection_given(flags: Mapping[str, Any], env: Mapping[str, str]) -> bool:
    """Whether a flag or BATON_* variable gives any part of the connection (base URL, user, password)."""
    connection = {item.name for item in declared(XmattersConfig) if item.spec.required}
    return bool(given(XmattersConfig, flags, env) & connection)


def uses_dlt_configuration(flags: Mapping[str, Any], env: Mapping[str, str]) -> bool:
    """Whether the connection is read from dlt's configuration: no flag or BATON_* variable gives
    any part of it, and dlt's providers hold a base URL."""
    return not connection_given(flags, env) and dlt_configured()


def resolve_config(flags: Mapping[str, Any], env: Mapping[str, str]) -> XmattersConfig:
    """Flags and BATON_* variables, or dlt's configuration when they name no connection at all.

    On dlt's route a tuning flag that was given (`--concurrency 2`) still wins over its dlt key.
    """
    if uses_dlt_configuration(flags, env):
        return XmattersConfig.from_dlt(flags)
    try:
        return XmattersConfig.from_sources(flags, env)
    except ConfigError as exc:
        missing = str(exc).removeprefix(f"{PREFIX}: ")
        if not missing.startswith("missing "):
            raise
        if not connection_given(flags, env):
            # nothing gave the connection and dlt holds no base URL (what picks its route): both
            # places this route reads are named, not only the flag
            raise ConfigError(f"{missing}, or {dlt_keys('base_url')}") from None
        if not dlt_configured():
            raise
        # "missing --base-url" while [sources.xmatters] holds one: say why dlt's value is not used
        raise ConfigError(
            f"{missing}; dlt's [sources.xmatters] is not used because a flag "
            "or BATON_* variable gives part of the connection: give all of it one way"
        ) from None


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s"
    )
    with ExitStack() as stack:
        flags = vars(args)
        if args.simulate:
            # Imported lazily: the simulator is a development tool, not a dependency of the source.
            from simulator.app import XmattersSimulator
            from simulator.org import build_org

            simulator = stack.enter_context(XmattersSimulator(build_org()))
            flags.update(base_url=simulator.base_url, username="sim-user", password="sim-password")
        report = ExtractReport()
        try:
            config = resolve_config(flags, os.environ)
        except ConfigError as exc:
            return fail(str(exc), EXIT_USAGE)
        previous_umask = os.umask(PRIVATE_UMASK)
        created = not args.warehouse.exists()
        try:
            try:
                restrict_to_owner(args.warehouse)
                load_raw(config, args.warehouse, pipelines_dir=args.pipelines_dir, report=report)
            except BaseException:
                if created:  # a first load refused (HTTP 401) leaves no empty warehouse behind
                    unused_warehouse.discard_if_unused(args.warehouse)
                raise
        except XmattersError as exc:
            message = str(exc)
            if uses_dlt_configuration(flags, os.environ):  # a 401 names where this route read the user
                message = message.replace(CREDENTIALS_HINT, DLT_CREDENTIALS_HINT)
            return fail(message, EXIT_FAILED)
        except PipelineStepFailed as exc:  # not xMatters': dlt or DuckDB, e.g. the warehouse held open
            return fail(load_failure(exc, args.warehouse), EXIT_FAILED)
        finally:
            os.umask(previous_umask)
    print(f"xmatters_raw in {args.warehouse}: {report.summary()}")
    for skipped in report.skipped_groups:
        print(f"warning: {skipped.warning()}")
    return 0


def restrict_to_owner(warehouse: Path) -> None:
    """A warehouse an earlier run left readable by others (before PRIVATE_UMASK) becomes owner-only."""
    try:
        if warehouse.stat().st_mode & 0o077:
            warehouse.chmod(0o600)
    except FileNotFoundError:
        pass


def load_failure(exc: PipelineStepFailed, warehouse: Path) -> str:
    """One line for a load that failed outside the xMatters source: the innermost cause's first line.

    The warehouse held by another process (a `duckdb` session, a sync) fails dlt's first step,
    before any request; DuckDB then advises opening the file read-only, which a load cannot.
    """
    cause: BaseException = exc
    while cause.__cause__ is not None:
        cause = cause.__cause__
    holder = lock_holder(cause)
    if holder is not None:
        return (
            f"the warehouse {warehouse} is open in another process (PID {holder.pid}, {holder.program}): "
            "DuckDB allows no other session while the load writes; close that session (or let the "
            "sync end) and load again"
        )
    job = failed_load_job(exc)
    if job is not None:
        return str(job)
    detail = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    return f"dlt's {exc.step} step failed: {detail}"


def fail(message: str, code: int) -> int:
    print(f"{COMMAND}: error: {printable(message)}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
