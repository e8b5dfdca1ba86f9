"""`baton-xmatters demo` (what `make demo` runs): a full sync from the built-in simulator.

Starts the simulator on a free loopback port, syncs from it with the normal CLI path, and tells the
user where the file and the warehouse are and how to look at them.

The demo keeps to its own data directory (`--home`, default `var/demo`: warehouse, dlt state,
Dagster home, demo.c1z). A synthetic tenant synced into the real warehouse would replace its
published tables and add fake access changes to its history; so the demo ignores
`BATON_XMATTERS_HOME` and `DAGSTER_HOME` and writes elsewhere only when given `--warehouse` or `-f`.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from orchestration import log_settings, sync_command
from orchestration.cli import executable
from orchestration.paths import user_path
from pipelines.argument_parser import non_empty
from simulator.app import XmattersSimulator
from simulator.cli import named_by_option
from simulator.org import OrgSpec, build_org

DEFAULT_HOME = Path("var/demo")
_SPEC = OrgSpec()
_SAMPLE_QUERY = "SELECT display_name, status FROM c1.users ORDER BY display_name LIMIT 5"


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--people", type=int, default=_SPEC.people, help="people in the simulated tenant")
    parser.add_argument("--groups", type=int, default=_SPEC.groups, help="groups in the simulated tenant")
    parser.add_argument("--seed", type=int, default=_SPEC.seed)
    parser.add_argument(
        "--home",
        type=non_empty,
        default=str(DEFAULT_HOME),
        help=f"the demo's data directory: warehouse, dlt state, Dagster home (default {DEFAULT_HOME})",
    )
    parser.add_argument("-f", "--file", type=non_empty, help="the .c1z to write (default <home>/demo.c1z)")
    parser.add_argument(
        "--warehouse", type=non_empty, help="the DuckDB warehouse (default <home>/warehouse.duckdb)"
    )
    log_settings.add_log_arguments(parser)


def demo_spec(people: int, groups: int, seed: int) -> OrgSpec:
    """The demo's tenant. Its large group (several member pages) is no bigger than the tenant and it
    has no more people outside the API account's scope than in it, so a small demo is not mostly
    such people (and `--people 0` has none: an empty tenant, as `simulate --people 0`)."""
    large_group_size = min(_SPEC.large_group_size, people)
    hidden_people = min(_SPEC.hidden_people, max(people, 0))
    return OrgSpec(
        seed=seed,
        people=people,
        groups=groups,
        large_group_size=large_group_size,
        hidden_people=hidden_people,
    )


def run_demo(options: argparse.Namespace) -> int:
    home = user_path(options.home)
    sync_file = user_path(options.file) if options.file else home / "demo.c1z"
    warehouse = user_path(options.warehouse) if options.warehouse else home / "warehouse.duckdb"
    try:
        spec = demo_spec(options.people, options.groups, options.seed)
    except ValueError as exc:  # was a traceback
        print(f"baton-xmatters: error: {named_by_option(exc)}", file=sys.stderr)
        return 2
    org = build_org(spec)
    with XmattersSimulator(org) as simulator:
        print(
            f"Simulator: {simulator.base_url} ({len(org.people)} people, +{len(org.hidden_people)} outside "
            f"the API account's scope, {len(org.groups)} groups)"
        )
        sync_options = sync_command.build_options(
            base_url=simulator.base_url,
            username=simulator.username,
            password=simulator.password,
            sync_file=str(sync_file),
            warehouse=str(warehouse),
            log_level=options.log_level,
            log_format=options.log_format,
            new_source=True,  # each demo's simulator listens on a new port: another source each time
        )
        # the sync takes both homes from the environment it is given: the demo's, whatever the shell says
        demo_env = {"BATON_XMATTERS_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
        code = sync_command.run_sync(sync_options, env={**os.environ, **demo_env})
    if code == 0:
        print(next_steps(home, sync_file, warehouse))
    return code


def next_steps(home: Path, sync_file: Path, warehouse: Path) -> str:
    """Commands to paste as they are: full paths, no venv to activate."""
    command = executable()
    quote = shlex.quote
    return (
        f"\nThe demo's data is in {home} (a warehouse elsewhere is left alone). Next:\n"
        f"  {command} inspect -f {quote(str(sync_file))} stats\n"
        f"  {command} sql --warehouse {quote(str(warehouse))} {quote(_SAMPLE_QUERY)}\n"
        f"  {command} diff --warehouse {quote(str(warehouse))}\n"
        f"  {_ui_command(home)}   (Dagster UI with the demo's run history; http://127.0.0.1:3000)"
    )


def _ui_command(home: Path) -> str:
    """`make -C <checkout> ui ...`: a bare `make ui` works only in the checkout, and the other hints
    run from anywhere. Without a Makefile beside the package (an installed wheel, the image), the
    `dagster dev` that `make ui` runs, under the same umask."""
    root = Path(__file__).resolve().parent.parent
    quote = shlex.quote
    if (root / "Makefile").is_file():
        return f"make -C {quote(str(root))} ui BATON_XMATTERS_HOME={quote(str(home))}"
    dagster = Path(sys.executable).with_name("dagster")
    return (
        f"(umask 077 && BATON_XMATTERS_HOME={quote(str(home))} DAGSTER_HOME={quote(str(home / 'dagster'))} "
        f"{quote(str(dagster))} dev -m orchestration.definitions -p 3000)"
    )
