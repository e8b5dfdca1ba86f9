"""Benchmark: write 1,000,000 grants over 10,000 groups and 100,000 users into a `.c1z`.

Prints wall time, peak RSS and bytes per grant, and the same bytes-per-grant figure for baton-sdk's
own sample files (../shared/interop/baton-sdk) for comparison. Target on a 2-core machine:
<= 20 s and <= 1 GiB peak RSS. Not a test: run it by hand, `python bench/c1z_write.py [--grants N]`.
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from pipelines.c1z.reader import open_c1z
from pipelines.c1z.rows import GrantRow, GroupRow, UserRow
from pipelines.c1z.writer import write_c1z

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--grants", type=int, default=1_000_000)
    parser.add_argument("--groups", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=100_000)
    args = parser.parse_args()

    user_ids, group_ids = _ids(args.users, 1), _ids(args.groups, 2)
    with tempfile.TemporaryDirectory(dir=".") as scratch:
        target = Path(scratch) / "bench.c1z"
        rss_before = _peak_rss_mib()
        start = time.perf_counter()
        result = write_c1z(
            target,
            users=_users(user_ids),
            groups=_groups(group_ids),
            grants=_grants(group_ids, user_ids, args.grants),
        )
        wall = time.perf_counter() - start
        grants = result.counts["grants"]
        print(
            f"wrote {grants:,} grants, {result.counts['groups']:,} groups, {result.counts['users']:,} users"
        )
        print(f"wall time        {wall:8.2f} s")
        print(f"peak RSS         {_peak_rss_mib():8.1f} MiB (before writing: {rss_before:.1f} MiB)")
        print(f"file size        {result.bytes / 1024**2:8.1f} MiB")
        print(f"bytes per grant  {result.bytes / grants:8.1f} (whole file / grants)")

    for sample in sorted(SAMPLES.glob("*.c1z")):
        with open_c1z(sample) as reader:
            sample_grants = reader.stats()["grants"]
        if sample_grants:
            size = sample.stat().st_size
            print(
                f"baton-sdk sample {size / sample_grants:8.1f} bytes per grant "
                f"({sample.name}, {sample_grants} grants)"
            )


if __name__ == "__main__":
    main()
