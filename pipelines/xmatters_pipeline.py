"""Load xMatters people, groups and memberships into DuckDB (`xmatters_raw`): the raw layer alone.

A runnable example of the `xmatters` dlt source and a standalone raw loader:

    # against a real instance (flags, or BATON_BASE_URL / BATON_USERNAME / BATON_PASSWORD)
    python -m pipelines.xmatters_pipeline --base-url https://company.xmatters.com/api/xm/1 \\
        --username x-api-key-... --password-file ~/.xmatters-secret

    # against the embedded simulator, no credentials needed
    python -m pipelines.xmatters_pipeline --simulate

Then query: duckdb -readonly var/warehouse.duckdb "select count(*) from xmatters_raw.group_members"
Exit status 0 on success, 1 with a one-line cause on stderr on failure.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

from pipelines.xmatters.config import XmattersConfig
from pipelines.xmatters.errors import XmattersError
from pipelines.xmatters.flags import add_connection_arguments, connection_flags
from pipelines.xmatters.loader import load_raw
from pipelines.xmatters.report import ExtractReport

# The same layout as the full sync (orchestration/paths.py): everything under BATON_XMATTERS_HOME.
DEFAULT_HOME = Path(os.environ.get("BATON_XMATTERS_HOME", "var"))

logger = logging.getLogger("pipelines.xmatters_pipeline")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_connection_arguments(parser)
    parser.add_argument(
        "--warehouse", type=Path, default=DEFAULT_HOME / "warehouse.duckdb", help="DuckDB file"
    )
    parser.add_argument(
        "--pipelines-dir", type=Path, default=DEFAULT_HOME / "dlt", help="dlt working directory"
    )
    parser.add_argument("--simulate", action="store_true", help="extract from an embedded xMatters simulator")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s"
    )
    with ExitStack() as stack:
        flags = connection_flags(args)
        if args.simulate:
            # Imported lazily: the simulator is a development tool, not a dependency of the source.
            from simulator.app import XmattersSimulator
            from simulator.org import build_org

            simulator = stack.enter_context(XmattersSimulator(build_org()))
            flags.update(base_url=simulator.base_url, username="sim-user", password="sim-password")
        report = ExtractReport()
        try:
            config = XmattersConfig.from_sources(flags, os.environ)
            config = replace(config, concurrency=args.concurrency).validate()
            load_raw(config, args.warehouse, pipelines_dir=args.pipelines_dir, report=report)
        except XmattersError as exc:
            print(exc, file=sys.stderr)
            return 1
    print(f"xmatters_raw in {args.warehouse}: {report.summary()}")
    for skipped in report.skipped_groups:
        print(f"warning: group {skipped.group_id} ({skipped.name}) skipped: {skipped.reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
