"""One CLI sync against a simulator whose names are padded (the `padded_names` fault), measured.

Why: a server may send legal JSON with names of tens of KB; whether the sync then succeeds within
the pod's memory depends on DuckDB (docs/benchmarks.md, twenty-second round). This runs the
simulator in this process and the CLI as a child, polls the summed RSS of the CLI's process tree
every 50 ms (psutil) and prints the exit code, the wall time, the peak (when, and each process's
RSS then) and the last stderr lines; `<home>/stderr.log` has the sync's log and `<home>/rss.txt`
every sample (time, MiB of the tree, MiB of each process), to match the peak with a step.
`--memory-limit 1g` runs the sync in a memory cgroup (bench/memory_cgroup.py) and prints its figures.

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
from contextlib import suppress
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator import FaultRule, Faults, OrgSpec, XmattersSimulator, build_org  # noqa: E402

try:  # `python bench/huge_names.py` puts bench/ on the path
    from memory_cgroup import MemoryCgroup, unique_name, usable_limit
    from run import POLL_S, TreeRssSampler
except ImportError:
    from bench.memory_cgroup import MemoryCgroup, unique_name, usable_limit
    from bench.run import POLL_S, TreeRssSampler


class PeakBreakdown(TreeRssSampler):
    """`bench/run.py`'s TreeRssSampler (the summed RSS of a process tree, polled), which also keeps
    when the peak was and each process's RSS then: where the peak is, beside the sync's log lines."""

    def __init__(self, pid: int, timeline: Path | None = None) -> None:
        self.timeline = timeline.open("w") if timeline else None  # every sample: time, each process
        self.at = ""
        self.parts: list[tuple[int, str]] = []
        super().__init__(pid)  # starts the sampling thread: the fields above first

    def _run(self) -> None:
        while not self._stop.is_set():
            parts = []
            try:
                for proc in [self._root, *self._root.children(recursive=True)]:
                    with suppress(psutil.Error):
                        parts.append((proc.memory_info().rss, _label(proc)))
            except psutil.Error:
                return
            total = sum(rss for rss, _ in parts)
            if self.timeline:
                shown = " ".join(f"{label}={rss / 2**20:.0f}" for rss, label in parts)
                self.timeline.write(f"{time.strftime('%H:%M:%S')} {total / 2**20:.0f} {shown}\n")
            if total > self.peak:
                self.peak, self.at, self.parts = total, time.strftime("%H:%M:%S"), parts
            self._stop.wait(POLL_S)

    def stop(self) -> int:
        peak = super().stop()
        if self.timeline:
            self.timeline.close()
        return peak

    def describe(self) -> str:
        shown = ", ".join(f"{label} {rss / 2**20:.0f}" for rss, label in sorted(self.parts, reverse=True))
        return f"peak at {self.at} (MiB): {shown}"


def _label(proc: psutil.Process) -> str:
    """A process's short name: the module it runs (`-m x.y`) or its last argument."""
    with suppress(psutil.Error):
        args = proc.cmdline()
        if "-m" in args[:-1]:
            return args[args.index("-m") + 1]
        return Path(args[-1]).name if args else proc.name()
    return "?"


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
    parser.add_argument("--memory-limit", help="run the sync in a memory cgroup of this size (1g)")
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
    limit = usable_limit(args.memory_limit)
    home = Path(args.home)
    home.mkdir(parents=True, exist_ok=False)
    with XmattersSimulator(build_org(spec), faults=faults) as sim:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BATON_", "DAGSTER_HOME"))}
        env.update(BATON_XMATTERS_HOME=str(home), BATON_PASSWORD=sim.password, PYTHONUNBUFFERED="1")
        command = [sys.executable, "-m", "orchestration.cli", f"--base-url={sim.base_url}"]
        command += [f"--username={sim.username}", f"-f={home / 'sync.c1z'}", *args.cli_args]
        cgroup = MemoryCgroup.create(limit, unique_name()) if limit else None
        if cgroup is not None:
            command = cgroup.command(command)
        started = time.monotonic()
        proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        rss = PeakBreakdown(proc.pid, home / "rss.txt")
        _, err = proc.communicate()
        peak = rss.stop()
        if cgroup is not None:
            print(cgroup.result().describe(proc.returncode))
            cgroup.remove()
    wall = time.monotonic() - started
    (home / "stderr.log").write_text(err)
    print(f"exit {proc.returncode}  wall {wall:.1f} s  peak tree RSS {peak / 2**20:.0f} MiB")
    print(rss.describe())
    print("\n".join(err.splitlines()[-3:]))
    return proc.returncode


if __name__ == "__main__":
    raise SystemExit(main())
