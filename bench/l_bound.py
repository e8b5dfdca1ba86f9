"""The L extract at 20 ms and `--concurrency 8` against its bound, N times, with a request timeline.

Issue 21's target (`bench/run.py` measures it once per `make bench`): dlt's extract step of the L
sync, with the simulator sleeping 20 ms per request, at most `requests x 20 ms / 8` x 1.05. This
runs only that cell, `--runs` times, alternating between source trees (`--tree`, given twice or
more, for A/B pairs in the same minutes), against one simulator whose every request is timed
(arrival after the request head is parsed, end after the response is written). From that timeline
and dlt's trace it splits the time over the bound:

- `to first`: extract start to the first request (dlt set-up);
- `groups`: the first request to the first members call (the `/groups` listing);
- `calls`: the member calls' span against `member requests x 20 ms / 8` (`over`), with the mean
  server-side time per member request (sleep included) and the mean number of member requests the
  server had in flight (8 when no slot is ever idle);
- `tail`: the last members answer to the extract's end (the last tables written by dlt).

A CLI sync starts its member calls before its run (`pipelines/xmatters/early_members.py`), before
dlt's extract step: the extract is then timed from the first request (`to first` is 0).

    .venv/bin/python bench/l_bound.py --runs 3 --tree . --tree /tmp/base
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

try:  # `python bench/l_bound.py` puts bench/ on the path
    from run import HIDING_CONCURRENCY, LATENCY_MS, SCALES, Scale, _await_listening, run_sync
except ImportError:
    from bench.run import HIDING_CONCURRENCY, LATENCY_MS, SCALES, Scale, _await_listening, run_sync

ROOT = Path(__file__).resolve().parents[1]


def serve_timed(timeline: Path, argv: list[str]) -> int:
    """The simulator CLI with every GET timed; SIGUSR1 writes the timeline so far to `timeline`."""
    import simulator.app as app
    from simulator.cli import add_simulate_arguments, run_simulate

    records: list[tuple[float, float, str]] = []
    plain = app._Handler.do_GET

    def timed(self: app._Handler) -> None:
        start = time.time()
        plain(self)
        records.append((start, time.time(), self.path))

    app._Handler.do_GET = timed  # type: ignore[method-assign]

    def dump(*_: object) -> None:
        taken = records[:]
        del records[: len(taken)]
        timeline.write_text(json.dumps(taken))

    signal.signal(signal.SIGUSR1, dump)
    parser = argparse.ArgumentParser()
    add_simulate_arguments(parser)
    return run_simulate(parser.parse_args(argv))


@contextmanager
def timed_simulator(scale: Scale, timeline: Path) -> Iterator[tuple[str, psutil.Process]]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--serve-timed",
        str(timeline),
        "--",
        "--port=0",
        "--username=bench-user",
        "--password=bench-password",
        f"--latency-ms={LATENCY_MS:g}",
        *scale.simulator_args(),
    ]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield _await_listening(proc), psutil.Process(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def read_timeline(proc: psutil.Process, timeline: Path) -> list[tuple[float, float, str]]:
    timeline.unlink(missing_ok=True)
    proc.send_signal(signal.SIGUSR1)
    for _ in range(100):
        time.sleep(0.1)
        if timeline.exists():
            time.sleep(0.2)  # written whole by one write_text
            return [tuple(r) for r in json.loads(timeline.read_text())]  # type: ignore[misc]
    raise RuntimeError("the simulator wrote no timeline")


def extract_window(home: Path) -> tuple[float, float]:
    import dlt

    from pipelines.xmatters.settings import PIPELINE_NAME

    trace = dlt.attach(pipeline_name=PIPELINE_NAME, pipelines_dir=str(home / "dlt")).last_trace
    step = next(s for s in trace.steps if s.step == "extract")
    return step.started_at.timestamp(), step.finished_at.timestamp()


def analyse(records: list[tuple[float, float, str]], window: tuple[float, float], concurrency: int) -> dict:
    # from the first request when it precedes dlt's extract step (member calls started early)
    start, end = min(window[0], min(r[0] for r in records)), window[1]
    latency = LATENCY_MS / 1000
    members = sorted((r for r in records if "/members" in r[2]), key=lambda r: r[0])
    groups = [r for r in records if r[2].split("?")[0].endswith("/groups")]
    people = [r for r in records if "/people" in r[2]]
    first_members, last_members = members[0][0], max(r[1] for r in members)
    span = last_members - first_members
    server = [r[1] - r[0] for r in members]
    return {
        "extract": end - start,
        "requests": len(records),
        "bound": len(records) * latency / concurrency,
        "to_first": min(r[0] for r in records) - start,
        "groups": first_members - min(r[0] for r in groups),
        "groups_listed": max(r[1] for r in groups) - min(r[0] for r in groups),
        "calls": span,
        "calls_bound": len(members) * latency / concurrency,
        "server_ms": 1000 * statistics.fmean(server),
        "in_flight": sum(server) / span,
        "people_end": max(r[1] for r in people) - start,
        "tail": end - last_members,
        "client_gap_ms": 1000 * (span * concurrency / len(members) - statistics.fmean(server)),
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--serve-timed"]:
        return serve_timed(Path(argv[1]), argv[3:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", type=Path, help="a source tree (default: this one)")
    parser.add_argument("--runs", type=int, default=3, help="syncs per tree (default 3)")
    parser.add_argument("--scale", default="L", choices=sorted(SCALES))
    parser.add_argument("--concurrency", type=int, default=HIDING_CONCURRENCY)
    parser.add_argument("--warm-up", action="store_true", help="one unmeasured sync first")
    args = parser.parse_args(argv)
    trees = [t.resolve() for t in (args.tree or [ROOT])]
    scale = SCALES[args.scale]
    with tempfile.TemporaryDirectory(prefix="l-bound-") as tmp:
        timeline = Path(tmp) / "timeline.json"
        with timed_simulator(scale, timeline) as (base_url, sim):
            order = [trees[0]] if args.warm_up else []
            for run in range(args.runs):  # alternate which tree goes first
                order += trees if run % 2 == 0 else trees[::-1]
            for index, tree in enumerate(order):
                workdir = Path(tmp) / f"run-{index}"
                read_timeline(sim, timeline)  # drop what came before
                figures = run_sync(
                    scale,
                    base_url,
                    sim,
                    workdir,
                    latency_ms=LATENCY_MS,
                    concurrency=args.concurrency,
                    root=tree,
                )
                home = next(workdir.iterdir())
                if figures.exit_code != 0:
                    print(f"{tree}: sync failed: {figures.stderr_tail[-3:]}", file=sys.stderr)
                    continue
                stats = analyse(read_timeline(sim, timeline), extract_window(home), args.concurrency)
                load = os.getloadavg()[0]
                warm = " (warm-up)" if args.warm_up and index == 0 else ""
                print(
                    f"{tree.name}{warm}: extract {stats['extract']:.2f} s / bound {stats['bound']:.2f} s = "
                    f"{stats['extract'] / stats['bound']:.3f}x; to first {stats['to_first']:.2f}, "
                    f"groups {stats['groups']:.2f} (listed {stats['groups_listed']:.2f}), "
                    f"calls {stats['calls']:.2f} vs {stats['calls_bound']:.2f} "
                    f"(server {stats['server_ms']:.2f} ms, "
                    f"in flight {stats['in_flight']:.2f}, client gap {stats['client_gap_ms']:.2f} ms), "
                    f"tail {stats['tail']:.2f}, people done at {stats['people_end']:.2f}; "
                    f"requests {stats['requests']}; wall {figures.wall_s:.1f} s; "
                    f"tree peak {figures.peak_rss_bytes / 2**20:,.0f} MiB; load {load:.1f}",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    threading.current_thread().name = "l-bound"
    raise SystemExit(main())
