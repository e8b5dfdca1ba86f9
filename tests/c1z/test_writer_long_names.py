"""The writer's memory on groups of long names (xMatters sets no limit on name lengths).

A group's serialized resource holds its profile twice (the GroupTrait's and the resource's), and
every entitlement and every grant of it holds the resource again. The groups' and entitlements'
insert batches ended only at 16,384 values, and each group's bytes were kept beside the grants'
copy: 5,000 groups of 20 KB names held ~200 MB in each and the sync's tree peaked at 1,467 MiB.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from pathlib import Path

from pipelines.c1z import encode
from pipelines.c1z.reader import open_c1z
from pipelines.c1z.rows import GrantRow, GroupRow
from pipelines.c1z.writer import write_c1z

GROUPS, WIDTH = 1_500, 20_000


def _groups() -> Iterator[GroupRow]:
    for index in range(GROUPS):
        name = f"{index:08d}".ljust(WIDTH, "x")
        yield GroupRow(f"g{index}", name[:100], profile={"targetName": name, "groupType": "ON_CALL"})


def test_groups_of_long_names_are_written_holding_about_one_copy_of_their_bytes(tmp_path: Path) -> None:
    group_bytes = GROUPS * len(encode.group_resource_bytes(next(_groups())))  # ~60 MB
    tracemalloc.start()
    try:
        result = write_c1z(
            tmp_path / "sync.c1z", users=[], groups=_groups(), grants=[GrantRow("g0", "group", "g1")]
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.counts["groups"] == GROUPS and result.counts["entitlements"] == GROUPS
    # one copy (the grants' entitlement fields) and a 16 MB batch; before: ~3 copies at once
    assert peak < 1.5 * group_bytes, (peak, group_bytes)
    with open_c1z(tmp_path / "sync.c1z") as reader:
        [grant] = list(reader.grants())
    assert grant.entitlement.resource.display_name == "00000000".ljust(100, "x")
