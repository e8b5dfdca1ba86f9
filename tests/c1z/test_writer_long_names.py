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
from pipelines.c1z.rows import GrantRow, GroupRow, UserRow
from pipelines.c1z.writer import C1ZWriter, write_c1z

GROUPS, WIDTH = 1_500, 20_000


def _group(index: int) -> GroupRow:
    name = f"{index:08d}".ljust(WIDTH, "x")
    return GroupRow(f"g{index}", name[:100], profile={"targetName": name, "groupType": "ON_CALL"})


def _groups(count: int = GROUPS) -> Iterator[GroupRow]:
    return map(_group, range(count))


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


def test_the_grants_phase_holds_no_copy_of_the_groups_names(tmp_path: Path) -> None:
    """Each grant's entitlement field holds its group's resource (its names, three times): it was
    built for every group with its entitlement and held through the grants phase, beside every
    group's name, 5,000 groups of 20 KB names ~400 MB. It is now cut from the stored entitlement as
    each group's grants are inserted. Grants to users and to groups both take it."""
    count = 300
    group_bytes = count * len(encode.group_resource_bytes(_group(0)))  # ~12 MB
    users = [UserRow(f"u{n}", f"User {n}", "ENABLED") for n in range(2)]
    grants = [
        grant
        for n in range(count)
        for grant in (
            GrantRow(f"g{n}", "user", "u0"),
            GrantRow(f"g{n}", "user", "u1"),
            GrantRow(f"g{n}", "group", f"g{(n + 1) % count}"),
        )
    ]
    tracemalloc.start()
    try:
        with C1ZWriter(tmp_path / "sync.c1z") as writer:
            writer.add_users(users)
            writer.add_groups(_groups(count))
            writer.add_entitlements(None)
            held = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            writer.add_grants(grants)
            _, grants_peak = tracemalloc.get_traced_memory()
            result = writer.finish()
    finally:
        tracemalloc.stop()
    assert result.counts["grants"] == 3 * count
    # before: ~1x the groups' bytes (every entitlement field), held from the entitlements on
    assert held < 0.1 * group_bytes, (held, group_bytes)
    assert grants_peak < 0.1 * group_bytes, (grants_peak, group_bytes)
    with open_c1z(tmp_path / "sync.c1z") as reader:
        read = [(g.entitlement.resource.id.resource, g.principal.id.resource, g.id) for g in reader.grants()]
        [last] = [g for g in reader.grants() if g.id == "group:g299:member:group:g0"]
    assert len(read) == 3 * count
    assert all(resource == grant_id.split(":")[1] for resource, _, grant_id in read)
    assert last.entitlement.id == "group:g299:member"
    assert last.entitlement.resource.display_name == "00000299".ljust(100, "x")
    assert last.entitlement.resource.SerializeToString(deterministic=True) == encode.group_resource_bytes(
        _group(299)
    )
