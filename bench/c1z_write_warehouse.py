"""Time the `.c1z` write alone on a synced warehouse, fed exactly as the `c1_sync` asset feeds it.

Why: `bench/c1z_write.py` writes synthetic rows, and a CLI sync's "c1z write" stage also holds the
publish copy beside it; this times `write_c1z` over a real warehouse's staged tables (the asset's
own `_users`, `_groups`, `_entitlements`, `_grants` queries, the sync's GC settings) and nothing
else, so two trees can be compared on one warehouse. Build one with a CLI sync (README), then:

`python bench/c1z_write_warehouse.py WAREHOUSE OUT.c1z [--repeat N] [--profile FILE] [--expand-nested-groups]`

Prints one JSON line per write: wall and CPU seconds (all threads: SQLite's sorter and zstd's
workers included), CPU seconds per phase, the writer's own wall timings, and the counts. The sync
id and start time are fixed, so two trees' files can be compared with `bench/c1z_compare.py`.
Opens the warehouse read-only; run it from the tree to measure (its modules are imported).
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

import pipelines.c1z.writer as writer_module
from orchestration.assets import sync_file
from orchestration.c1_limits_sql import install_macros
from orchestration.sync_command import bulk_allocation_gc

SYNC_ID = "3N9VvaowMd146FVJ9bTiPl2pwpz"
STARTED_AT = datetime(2026, 12, 7, 12, 0, 0, tzinfo=UTC)
_PHASES = {
    "add_users": "users",
    "add_groups": "groups",
    "add_entitlements": "entitlements",
    "add_grant_columns": "grants",
    "_create_indexes": "indexes",
}


def _timed(cpu: dict[str, float], label: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            cpu[label] = cpu.get(label, 0.0) + time.process_time() - started

    return wrapper


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--profile", type=Path, help="write a cProfile of the last write here")
    parser.add_argument("--expand-nested-groups", action="store_true")
    args = parser.parse_args(argv)
    cpu: dict[str, float] = {}
    for name, label in _PHASES.items():
        setattr(writer_module.C1ZWriter, name, _timed(cpu, label, getattr(writer_module.C1ZWriter, name)))
    writer_module.compress_database = _timed(cpu, "compression", writer_module.compress_database)
    grantable_to = ("user", "group") if args.expand_nested_groups else ("user",)
    con = duckdb.connect(str(args.warehouse), read_only=True)
    install_macros(con)
    with bulk_allocation_gc():
        for _ in range(args.repeat):
            args.out.unlink(missing_ok=True)
            cpu.clear()
            profile = cProfile.Profile() if args.profile else None
            cpu_started, wall_started = time.process_time(), time.perf_counter()
            if profile:
                profile.enable()
            result = writer_module.write_c1z(
                args.out,
                users=sync_file._users(con, []),
                groups=sync_file._groups(con),
                entitlements=sync_file._entitlements(con, grantable_to),
                grants=sync_file._grants(con),
                started_at=STARTED_AT,
                sync_id=SYNC_ID,
            )
            if profile:
                profile.disable()
                profile.dump_stats(args.profile)
            wall, used = time.perf_counter() - wall_started, time.process_time() - cpu_started
            report = {
                "wall_s": round(wall, 3),
                "cpu_s": round(used, 3),
                "cpu_s_per_phase": {k: round(v, 3) for k, v in cpu.items()},
                "wall_s_per_phase": {k: round(v, 3) for k, v in result.timings.items()},
                "bytes": result.bytes,
                "counts": result.counts,
            }
            print(json.dumps(report), flush=True)
    con.close()


if __name__ == "__main__":
    main()
