"""Benchmark: write 1,000,000 grants over 10,000 groups and 100,000 users into a `.c1z`.

Prints a table of wall time per phase (users, groups, entitlements, grants, indexes, close,
compression; each row phase beside the time its input generator alone takes, since rows are
streamed), total wall and CPU time, how many cores other processes kept busy meanwhile (the machine
may be shared: compare runs by CPU time too), peak RSS and bytes per grant, and the same
bytes-per-grant figure for baton-sdk's own sample files (../shared/interop/baton-sdk).
Target on a 2-core machine: <= 20 s and <= 1 GiB peak RSS. Not a test: run it by hand,
`python bench/c1z_write.py [--grants N]`.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from pipelines.c1z.reader import open_c1z
from pipelines.c1z.rows import GrantRow, GroupRow, UserRow
from pipelines.c1z.writer import C1ZWriter

SAMPLES = Path(__file__).resolve().parents[1] / ".." / "shared" / "interop" / "baton-sdk"


def _ids(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(count)]


def _users(ids: list[str]) -> Iterator[UserRow]:
    for number, user_id in enumerate(ids):
        yield UserRow(
            user_id=user_id,
            display_name=f"Person {number}",
            status="ENABLED" if number % 10 else "DISABLED",
            login=f"person{number}",
            given_name="Person",
            family_name=str(number),
            profile={
                "targetName": f"person{number}",
                "licenseType": "FULL_USER",
                "timezone": "US/Eastern",
                "site": "Default Site",
                "visibleToConnector": True,
            },
        )


def _groups(ids: list[str]) -> Iterator[GroupRow]:
    for number, group_id in enumerate(ids):
        yield GroupRow(
            group_id=group_id,
            display_name=f"On-call team {number}",
            description=f"Team {number} escalation group",
            profile={
                "targetName": f"On-call team {number}",
                "groupType": "ON_CALL",
                "status": "ACTIVE",
                "site": "Default Site",
                "allowDuplicates": True,
                "observedByAll": True,
            },
        )


def _grants(group_ids: list[str], user_ids: list[str], count: int) -> Iterator[GrantRow]:
    per_group = count // len(group_ids)
    rng = random.Random(7)
    for group_id in group_ids:
        for user_id in rng.sample(user_ids, per_group):
            yield GrantRow(group_id, "user", user_id)


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _busy_cpu_seconds() -> float | None:
    """CPU seconds all processes of the machine have used (Linux /proc/stat), None elsewhere."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


def _input_seconds(user_ids: list[str], group_ids: list[str], grants: int) -> dict[str, float]:
    """How long producing the input rows alone takes: the writer's row phases include it."""
    seconds = {}
    for name, rows in (
        ("users", _users(user_ids)),
        ("groups", _groups(group_ids)),
        ("grants", _grants(group_ids, user_ids, grants)),
    ):
        start = time.perf_counter()
        for _ in rows:
            pass
        seconds[name] = time.perf_counter() - start
    return seconds


def _sample_bytes_per_grant() -> list[tuple[str, int, float]]:
    """(file name, grants, bytes per grant) of each baton-sdk sample file with grants."""
    figures = []
    for sample in sorted(SAMPLES.glob("*.c1z")):
        with open_c1z(sample) as reader:
            sample_grants = reader.stats()["grants"]
        if sample_grants:
            figures.append((sample.name, sample_grants, sample.stat().st_size / sample_grants))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--grants", type=int, default=1_000_000)
    parser.add_argument("--groups", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument(
        "--no-input-baseline",
        action="store_true",
        help="skip timing the input generators alone (saves a few seconds)",
    )
    args = parser.parse_args()

    user_ids, group_ids = _ids(args.users, 1), _ids(args.groups, 2)
    inputs = {} if args.no_input_baseline else _input_seconds(user_ids, group_ids, args.grants)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(dir=".") as scratch:
        target = Path(scratch) / "bench.c1z"
        rss_before = _peak_rss_mib()
        cpu_before = _cpu_seconds()
        busy_before = _busy_cpu_seconds()
        start = time.perf_counter()
        with C1ZWriter(target) as writer:
            writer.add_users(_users(user_ids))
            writer.add_groups(_groups(group_ids))
            writer.add_entitlements(None)
            writer.add_grants(_grants(group_ids, user_ids, args.grants))
            result = writer.finish()
        wall = time.perf_counter() - start
        cpu = _cpu_seconds() - cpu_before
        busy_after = _busy_cpu_seconds()
        timings = writer.timings

    counts = result.counts
    grants = counts["grants"]
    print(
        f"wrote {grants:,} grants, {counts['groups']:,} groups, {counts['users']:,} users "
        f"on {os.cpu_count()} cores (1-min load average before: {load:.1f})"
    )
    print()
    print(f"{'phase':<14}{'wall s':>9}   {'of which input rows':>20}")
    for phase in ("users", "groups", "entitlements", "grants", "indexes", "close", "compression"):
        note = f"{inputs[phase]:20.2f}" if phase in inputs else ""
        print(f"{phase:<14}{timings.get(phase, 0.0):9.2f}   {note}")
    other = wall - sum(timings.values())
    print(f"{'(other)':<14}{other:9.2f}")
    print(f"{'total':<14}{wall:9.2f}   (CPU time {cpu:.2f} s; target <= 20 s wall)")
    if busy_before is not None and busy_after is not None:  # a shared machine: how busy others kept it
        others = max(busy_after - busy_before - cpu, 0.0) / wall
        print(f"other processes used {others:.2f} of the {os.cpu_count()} cores meanwhile")
    print()
    print(
        f"peak RSS         {_peak_rss_mib():8.1f} MiB (before writing: {rss_before:.1f} MiB; target <= 1024)"
    )
    print(f"file size        {result.bytes / 1024**2:8.1f} MiB")
    print(f"bytes per grant  {result.bytes / max(grants, 1):8.1f} (whole file / grants)")
    for name, sample_grants, per_grant in _sample_bytes_per_grant():
        print(f"baton-sdk sample {per_grant:8.1f} bytes per grant ({name}, {sample_grants:,} grants)")
    print("(baton-sdk's sample ids are short, e.g. user-0000099; ours are 36-character UUIDs)")


if __name__ == "__main__":
    main()
