"""Whole CLI syncs of two source trees as interleaved A/B pairs against one simulator: medians, every value.

For a change whose effect is smaller than the machine's drift: each pair runs both trees in the same
minute, alternating which goes first; `--baseline` also runs the download-only script once per pair
(the ratio of issue 21). Prints one line per run and a summary per tree. `--memory-limit 1g` runs
every sync in a memory cgroup of that size, as `bench/run.py` does (bench/memory_cgroup.py), and adds
the cgroup's peak and how often the limit was hit to each line.

    .venv/bin/python bench/ab_pairs.py --tree /work/main --tree . --scale M --latency-ms 20 --pairs 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

try:  # `python bench/ab_pairs.py` puts bench/ on the path
    from memory_cgroup import CgroupUnavailable, usable_limit
    from run import DEFAULT_CONCURRENCY, SCALES, run_baseline, run_sync, simulator
except ImportError:
    from bench.memory_cgroup import CgroupUnavailable, usable_limit
    from bench.run import DEFAULT_CONCURRENCY, SCALES, run_baseline, run_sync, simulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", type=Path, required=True, help="a source tree (twice)")
    parser.add_argument("--scale", default="M", choices=sorted(SCALES))
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--baseline", action="store_true", help="the download-only script once per pair")
    parser.add_argument("--warm-up", action="store_true", help="one unmeasured sync of the first tree first")
    parser.add_argument(
        "--memory-limit", metavar="SIZE", help="run every sync in a memory cgroup of SIZE (e.g. 1g)"
    )
    args = parser.parse_args(argv)
    try:
        memory_limit = usable_limit(args.memory_limit)
    except (ValueError, CgroupUnavailable) as exc:
        parser.error(f"--memory-limit: {exc}")
    trees = [tree.resolve() for tree in args.tree]
    scale = SCALES[args.scale]
    walls: dict[str, list[float]] = {str(tree): [] for tree in trees}
    peaks: dict[str, list[float]] = {str(tree): [] for tree in trees}
    stage_values: dict[str, dict[str, list[float]]] = {str(tree): {} for tree in trees}
    baselines: list[float] = []
    with (
        tempfile.TemporaryDirectory(prefix="ab-pairs-") as tmp,
        simulator(scale, latency_ms=args.latency_ms) as (base_url, sim),
    ):
        order: list[Path | None] = [trees[0]] if args.warm_up else []
        for pair in range(args.pairs):
            order += trees if pair % 2 == 0 else trees[::-1]
            if args.baseline:
                order.append(None)
        for index, tree in enumerate(order):
            load = os.getloadavg()[0]
            if tree is None:
                base = run_baseline(scale, base_url, latency_ms=args.latency_ms)
                baselines.append(base.wall_s)
                print(
                    f"baseline: wall {base.wall_s:.2f} s, exit {base.exit_code}, load {load:.1f}", flush=True
                )
                continue
            figures = run_sync(
                scale,
                base_url,
                sim,
                Path(tmp) / f"run-{index}",
                latency_ms=args.latency_ms,
                concurrency=args.concurrency,
                memory_limit=memory_limit,
                root=tree,
            )
            if figures.exit_code != 0:
                print(f"{tree}: sync failed: {figures.stderr_tail[-3:]}", file=sys.stderr, flush=True)
                continue
            warm = args.warm_up and index == 0
            if not warm:
                walls[str(tree)].append(figures.wall_s)
                peaks[str(tree)].append(figures.peak_rss_bytes / 2**20)
                for name, seconds in figures.stages.items():
                    stage_values[str(tree)].setdefault(name, []).append(seconds)
            stages = " ".join(f"{name} {seconds:.2f}" for name, seconds in figures.stages.items())
            if figures.cgroup is not None:
                stages += (
                    f"; cgroup peak {figures.cgroup.peak_bytes / 2**20:,.0f} MiB (anon "
                    f"{figures.cgroup.peak_anon_bytes / 2**20:,.0f}), limit hit {figures.cgroup.failcnt:,}"
                )
            print(
                f"{tree}{' (warm-up)' if warm else ''}: wall {figures.wall_s:.2f} s, "
                f"sync CPU {figures.sync_cpu_s:.1f} s, peak {figures.peak_rss_bytes / 2**20:,.0f} MiB; "
                f"{stages}; load {load:.1f}",
                flush=True,
            )
    limit = f", memory cgroup {args.memory_limit}" if memory_limit else ""
    print(f"summary: {args.scale} {args.latency_ms:g} ms, concurrency {args.concurrency}{limit}")
    for tree in trees:
        values = walls[str(tree)]
        if values:
            stage_medians = ", ".join(
                f"{name} {statistics.median(seconds):.2f}"
                for name, seconds in stage_values[str(tree)].items()
            )
            print(
                f"  {tree}: wall median {statistics.median(values):.2f} s "
                f"({', '.join(f'{v:.2f}' for v in values)}); stage medians: {stage_medians}; "
                f"peak max {max(peaks[str(tree)]):,.0f} MiB"
            )
    if baselines:
        print(
            f"  baseline: wall median {statistics.median(baselines):.2f} s "
            f"({', '.join(f'{v:.2f}' for v in baselines)})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
