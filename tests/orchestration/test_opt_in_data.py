"""Opt-in richer data: nested groups as expandable grants, EMAIL devices as user emails.

The defaults stay as the C1 connector behaves (tested in test_sync_cli.py); these flags add data.
"""

from __future__ import annotations

from orchestration.cli import main
from pipelines.c1z.email import c1_email
from pipelines.c1z.proto import pb
from pipelines.c1z.reader import is_expandable, open_c1z
from tests.orchestration.conftest import expected_from_org
from tests.orchestration.test_sync_cli import sync_args


def test_expand_nested_groups_reports_expandable_grants_to_child_groups(simulator, org, data_home, tmp_path):
    sync_file = tmp_path / "sync.c1z"
    assert main([*sync_args(simulator, sync_file), "--expand-nested-groups"]) == 0

    group_ids = {g["id"] for g in org.groups}
    nested = {
        (gid, item["member"]["id"])
        for gid, items in org.members.items()
        for item in items
        if item["member"]["recipientType"] == "GROUP" and item["member"]["id"] in group_ids
    }
    assert nested, "the simulated org must have nested groups"
    with open_c1z(sync_file) as reader:
        grants = list(reader.grants())
        entitlements = {e.id: e for e in reader.entitlements()}
    group_grants = {g.id: g for g in grants if g.principal.id.resource_type == "group"}
    assert set(group_grants) == {f"group:{p}:member:group:{c}" for p, c in nested}
    for grant in group_grants.values():
        assert is_expandable(grant)
        expandable = pb.GrantExpandable()
        next(a for a in grant.annotations if a.Is(pb.GrantExpandable.DESCRIPTOR)).Unpack(expandable)
        assert list(expandable.entitlement_ids) == [f"group:{grant.principal.id.resource}:member"]
    user_grants = {g.id for g in grants if g.principal.id.resource_type == "user"}
    assert user_grants == expected_from_org(org).grants
    assert not any(is_expandable(g) for g in grants if g.principal.id.resource_type == "user")
    some = next(iter(entitlements.values()))
    assert [t.id for t in some.grantable_to] == ["user", "group"]


def _user_emails(resource: pb.Resource) -> list[tuple[str, bool]]:
    trait = pb.UserTrait()
    next(a for a in resource.annotations if a.Is(pb.UserTrait.DESCRIPTOR)).Unpack(trait)
    return sorted((e.address, e.is_primary) for e in trait.emails)


def test_sync_emails_adds_email_devices_with_the_primary_flagged(simulator, org, data_home, tmp_path):
    sync_file = tmp_path / "sync.c1z"
    assert main([*sync_args(simulator, sync_file), "--sync-emails"]) == 0

    expected: dict[str, list[dict]] = {}
    for device in org.devices:
        if device.get("emailAddress"):
            expected.setdefault(device["owner"]["id"], []).append(device)
    assert expected, "the simulated org must have EMAIL devices"
    with open_c1z(sync_file) as reader:
        users = {r.id.resource: r for r in reader.resources("user")}
    for person_id, devices in expected.items():
        primary = min(devices, key=lambda d: (d["sequence"], d["id"]))
        # exämple.net in IDNA form, as C1's email rule needs (pipelines/c1z/email.py)
        want = sorted((c1_email(d["emailAddress"]), d is primary) for d in devices)
        assert _user_emails(users[person_id]) == want
    without = [pid for pid in users if pid not in expected]
    assert without and all(_user_emails(users[pid]) == [] for pid in without)


def test_default_sync_reads_no_device_data(simulator, org, data_home, tmp_path):
    sync_file = tmp_path / "sync.c1z"
    assert main(sync_args(simulator, sync_file)) == 0
    assert not any("/devices" in path for _, path, _ in simulator.requests)
    with open_c1z(sync_file) as reader:
        assert all(_user_emails(r) == [] for r in reader.resources("user"))
