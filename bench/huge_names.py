"""One CLI sync against a simulator whose names are padded (the `padded_names` fault), measured.

Why: a server may send legal JSON with names of tens of KB; whether the sync then succeeds within
the pod's memory depends on DuckDB (docs/benchmarks.md, twenty-second round). This runs the
simulator in this process and the CLI as a child, polls the summed RSS of the CLI's process tree
every 20 ms (psutil) and prints the exit code, the wall time, the peak and the last stderr lines.

    .venv/bin/python bench/huge_names.py --home /tmp/h --name-bytes 30000             # member names
    .venv/bin/python bench/huge_names.py --home /tmp/p --path /people --name-bytes 5000 --people 30000
    # 8 groups of the same 1,000 PERSON members /people does not return (hidden), 30 KB names
    .venv/bin/python bench/huge_names.py --home /tmp/h --people 0 --groups 8 --large-groups 8 \
        --large-group-size 1000 --members-per-group 0
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator import FaultRule, Faults, OrgSpec, XmattersSimulator, build_org  # noqa: E402

try:  # `python bench/huge_names.py` puts bench/ on the path
    from run import TreeRssSampler
except ImportError:
    from bench.run import TreeRssSampler


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True, help="a new data home for the sync")
    parser.add_argument("--path", default="/members", help="which listings get padded names")
    parser.add_argument("--name-bytes", type=int, default=30_000)
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--groups", type=int, default=300)
    parser.add_argument("--members-per-group", type=int, default=30)
    parser.add_argument("--hidden-people", type=int, default=5, help="persons only members list")
    parser.add_argument("--large-groups", type=int, default=0, help="groups of --large-group-size PERSONs")
    parser.add_argument("--large-group-size", type=int, default=1000)
    parser.add_argument("cli_args", nargs="*", help="more CLI flags, after --")
    args = parser.parse_args(argv)
    spec = OrgSpec(
        seed=7,
        people=args.people,
        groups=args.groups,
        members_per_group=args.members_per_group,
        hidden_people=args.hidden_people,
        large_groups=args.large_groups,
        large_group_size=args.large_group_size,
    )
    faults = Faults()
    faults.add(FaultRule("padded_names", path_contains=args.path, times=None, size_bytes=args.name_bytes))
    home = Path(args.home)
    home.mkdir(parents=True, exist_ok=False)
    with XmattersSimulator(build_org(spec), faults=faults) as sim:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BATON_", "DAGSTER_HOME"))}
        env.update(BATON_XMATTERS_HOME=str(home), BATON_PASSWORD=sim.password, PYTHONUNBUFFERED="1")
        command = [sys.executable, "-m", "orchestration.cli", f"--base-url={sim.base_url}"]
        command += [f"--username={sim.username}", f"-f={home / 'sync.c1z'}", *args.cli_args]
        started = time.monotonic()
        proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        rss = TreeRssSampler(proc.pid)
        _, err = proc.communicate()
        peak = rss.stop()
    wall = time.monotonic() - started
    print(f"exit {proc.returncode}  wall {wall:.1f} s  peak tree RSS {peak / 2**20:.0f} MiB")
    print("\n".join(err.splitlines()[-3:]))
    return proc.returncode


if __name__ == "__main__":
    raise SystemExit(main())
