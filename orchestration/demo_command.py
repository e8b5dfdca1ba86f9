"""`baton-xmatters demo` (what `make demo` runs): a full sync from the built-in simulator.

Starts the simulator on a free loopback port, syncs from it with the normal CLI path, and tells the
user where the file and the warehouse are and how to open the UI.
"""

from __future__ import annotations

import argparse
import os

from orchestration import sync_command
from orchestration.paths import data_paths
from simulator.app import XmattersSimulator
from simulator.org import OrgSpec, build_org


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--people", type=int, default=3000, help="people in the simulated tenant")
    parser.add_argument("--groups", type=int, default=120, help="groups in the simulated tenant")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("-f", "--file", help="the .c1z to write (default var/demo.c1z)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])


def run_demo(options: argparse.Namespace) -> int:
    paths = data_paths()
    sync_file = options.file or str(paths.home / "demo.c1z")
    org = build_org(OrgSpec(seed=options.seed, people=options.people, groups=options.groups))
    with XmattersSimulator(org) as simulator:
        print(f"Simulator: {simulator.base_url} ({len(org.people)} people, {len(org.groups)} groups)")
        sync_options = sync_command.build_options(
            base_url=simulator.base_url,
            username=simulator.username,
            password=simulator.password,
            file=sync_file,
            log_level=options.log_level,
            new_source=True,  # each demo's simulator listens on a new port: another source each time
        )
        code = sync_command.run_sync(sync_options)
    if code == 0:
        dagster_home = os.environ.get("DAGSTER_HOME") or str(paths.dagster_home)
        print(
            "\nNext:\n"
            f"  baton-xmatters inspect -f {sync_file} stats\n"
            f"  .venv/bin/python -c \"import duckdb; print(duckdb.connect('{paths.warehouse}', "
            "read_only=True).sql('SELECT display_name, status FROM c1.users LIMIT 5'))\"\n"
            f"  make ui   (Dagster UI with run history from {dagster_home}; http://127.0.0.1:3000)"
        )
    return code
