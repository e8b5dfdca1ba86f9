"""The download-only baseline (`bench/download_baseline.py`) reads exactly what the simulator serves.

It is the peer the sync is measured against (issue 21), so a baseline that skipped pages (or read
some twice) would make the comparison meaningless: checked against a real simulator on loopback.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from simulator import XmattersSimulator
from simulator.org import OrgSpec, build_org
from tests.bench.scripts import load_script

baseline = load_script("download_baseline.py", "download_baseline")

# Several pages per listing at page size 100 (people, groups and the two large groups).
SPEC = OrgSpec(seed=3, people=1_000, groups=100, members_per_group=20, large_groups=2, large_group_size=450)


def test_it_downloads_every_page_once_and_counts_every_item() -> None:
    org = build_org(SPEC)
    with XmattersSimulator(org, username="u", password="p") as sim:
        downloader = baseline.Downloader(sim.base_url, ("u", "p"), threads=4, page_size=100)
        counts = downloader.run()
        served = sim.requests

    assert (counts.people, counts.groups) == (len(org.people), len(org.groups))
    assert counts.members == org.membership_rows()
    pages_of = lambda n: -(-n // 100)  # noqa: E731
    expected = pages_of(len(org.people)) + pages_of(len(org.groups))
    expected += sum(max(1, pages_of(n)) for n in org.member_counts().values())
    assert counts.requests == expected == len(served)
    assert all(status == 200 for _, _, status in served)
    assert max(Counter(path for _, path, _ in served).values()) == 1  # no page read twice


def test_the_command_line_prints_the_summary_line_the_bench_reads(capsys: pytest.CaptureFixture[str]) -> None:
    org = build_org(SPEC)
    with XmattersSimulator(org, username="u", password="p") as sim:
        args = ["--base-url", sim.base_url, "--user", "u", "--password", "p", "--threads", "2"]
        assert baseline.main(args) == 0

    last = capsys.readouterr().out.splitlines()[-1]
    items = len(org.people) + len(org.groups) + org.membership_rows()
    # at the default page size of 1000: one people page, one groups page, one members page per group
    assert re.fullmatch(rf"requests={len(org.groups) + 2} items={items} wall_s=[\d.]+ cpu_s=[\d.]+", last)
