"""The synthetic organisation: variety, ground truth and determinism (no HTTP here)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import pytest

from simulator import Org, OrgSpec, XmattersSimulator, build_org
from simulator.org import to_json_bytes
from tests.simulator.helpers import get

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
REPO_ROOT = Path(__file__).resolve().parents[2]


def member_items(org: Org) -> list[dict]:
    return [item for group in org.groups for item in org.members[group["id"]]]


def test_scale_knobs_are_honoured(org: Org, org_spec: OrgSpec):
    assert len(org.people) == org_spec.people
    assert len(org.groups) == org_spec.groups
    inactive = sum(p["status"] == "INACTIVE" for p in org.people)
    assert inactive == round(org_spec.people * org_spec.inactive_share)
    large = org.members[org.groups[0]["id"]]
    assert len(large) == org_spec.large_group_size
    # 2,500 members in a 120-person org: the visible people plus out-of-scope people to make up the size.
    assert {i["member"]["id"] for i in large} >= {p["id"] for p in org.people}
    assert len(org.hidden_people) == org_spec.large_group_size - org_spec.people


def test_large_group_uses_visible_people_when_there_are_enough():
    spec = OrgSpec(seed=3, people=600, groups=6, hidden_people=2, large_group_size=500)
    org = build_org(spec)
    assert len(org.hidden_people) == 2
    large_ids = {i["member"]["id"] for i in org.members[org.groups[0]["id"]]}
    assert len(large_ids) == 500
    assert large_ids <= {p["id"] for p in org.people}


def test_every_group_type_status_and_member_type_is_present(org: Org):
    assert {g["groupType"] for g in org.groups} == {"ON_CALL", "BROADCAST", "DYNAMIC"}
    assert {g["status"] for g in org.groups} == {"ACTIVE", "INACTIVE"}
    counts = org.member_count_by_type()
    assert set(counts) == {"PERSON", "GROUP", "DEVICE", "DYNAMIC_TEAM"}
    assert all(n > 0 for n in counts.values()), counts
    assert any(not org.members[g["id"]] for g in org.groups), "an empty group"


def test_member_items_have_the_documented_shape(org: Org):
    group_ids = {g["id"] for g in org.groups}
    people = {p["id"]: p for p in org.all_people}
    for group in org.groups:
        for item in org.members[group["id"]]:
            assert item["group"] == {
                "id": group["id"],
                "targetName": group["targetName"],
                "recipientType": "GROUP",
                "groupType": group["groupType"],
                "links": {"self": f"/api/xm/1/groups/{group['id']}"},
            }
            member = item["member"]
            kind = member["recipientType"]
            if kind == "PERSON":
                person = people[member["id"]]
                assert member["targetName"] == person["targetName"]
                assert member["status"] == person["status"]
                assert member["licenseType"] == person["licenseType"]
                assert member.get("firstName") == person.get("firstName")
                assert member["links"]["self"] == f"/api/xm/1/people/{member['id']}"
            elif kind == "GROUP":
                assert member["id"] in group_ids and member["id"] != group["id"]
                assert {"groupType", "status", "links"} <= set(member)
            elif kind == "DEVICE":
                assert member["deviceType"] in {"EMAIL", "VOICE", "SMS"}
                assert member["name"] and member["targetName"].endswith("|" + member["name"])
                assert member["owner"]["id"] in people and member["owner"]["recipientType"] == "PERSON"
            else:
                assert kind == "DYNAMIC_TEAM"
                assert set(member) == {"id", "targetName", "recipientType"}  # no links, no status


def test_hidden_people_are_members_but_not_listed(org: Org):
    visible = {p["id"] for p in org.people}
    hidden = {p["id"] for p in org.hidden_people}
    assert hidden and not hidden & visible
    member_persons = {pid for _, pid in org.person_memberships()}
    assert hidden <= member_persons
    # The hidden people of the spec (not only the large group's top-up) sit in ordinary groups too.
    regular_members = {i["member"]["id"] for g in org.groups[1:] for i in org.members[g["id"]]}
    assert regular_members & hidden


def test_people_have_the_documented_fields_and_variety(org: Org):
    people = org.people
    for person in people:
        uuid.UUID(person["id"], version=4)
        assert person["recipientType"] == "PERSON"
        assert person["status"] in {"ACTIVE", "INACTIVE"}
        assert person["licenseType"] in {"FULL_USER", "STAKEHOLDER_USER"}
        assert person["links"] == {"self": f"/api/xm/1/people/{person['id']}"}
        assert {"id", "name", "links"} <= set(person["site"])
        for key in ("whenCreated", "whenUpdated", "lastLogin"):
            assert key not in person or TIMESTAMP.match(person[key]), person[key]
        assert isinstance(person["externallyOwned"], bool) and isinstance(person["locked"], bool)
    assert len({p["id"] for p in org.all_people}) == len(org.all_people)
    assert len({p["targetName"] for p in org.all_people}) == len(org.all_people)
    assert any("firstName" not in p and "lastName" not in p for p in people)
    assert any("webLogin" not in p for p in people)
    assert any("lastLogin" not in p for p in people)
    names = [p["targetName"] for p in people] + [p.get("lastName", "") for p in people]
    assert any(" " in n for n in names) and any("/" in n for n in names)
    assert any(not n.isascii() for n in names)
    value_types = {type(v) for p in people for v in p.get("properties", {}).values()}
    assert {str, int, float, bool, list} <= value_types
    assert all(isinstance(s, str) for p in people for s in p.get("properties", {}).get("Skills", []))
    assert any("properties" not in p for p in people) and any(p.get("properties") == {} for p in people)


def test_group_names_need_url_encoding(org: Org):
    names = [g["targetName"] for g in org.groups]
    assert len(set(names)) == len(names)
    for needle in (" ", "/", "%", "?", "#", '"', "\\", "+"):
        assert any(needle in n for n in names), needle
    assert any(not n.isascii() for n in names)
    for group in org.groups:
        assert org.group_by_key(group["targetName"]) is group
        assert org.group_by_key(group["id"]) is group
        assert TIMESTAMP.match(group["created"])
        assert len(group.get("description", "")) <= 1024


def test_email_devices(org: Org):
    owners = Counter(d["owner"]["id"] for d in org.devices)
    people = {p["id"] for p in org.people}
    assert set(owners) <= people
    assert len(set(owners)) < len(people), "some people have no email device"
    assert max(owners.values()) >= 2, "some people have several"
    for device in org.devices:
        assert device["deviceType"] == "EMAIL" and "@" in device["emailAddress"]
        assert {"id", "name", "priorityThreshold", "sequence", "status", "owner", "links"} <= set(device)
    every_device = org.devices + org.phone_devices
    assert len({d["id"] for d in every_device}) == len(every_device)


def test_ground_truth_helpers_agree_with_member_items(org: Org):
    items = member_items(org)
    assert org.membership_rows() == len(items)
    expected_counts = dict.fromkeys(("PERSON", "GROUP", "DEVICE", "DYNAMIC_TEAM"), 0)
    for item in items:
        expected_counts[item["member"]["recipientType"]] += 1
    assert org.member_count_by_type() == expected_counts
    assert org.person_memberships() == {
        (i["group"]["id"], i["member"]["id"]) for i in items if i["member"]["recipientType"] == "PERSON"
    }
    assert org.member_counts() == {g["id"]: len(org.members[g["id"]]) for g in org.groups}
    assert list(org.members) == [g["id"] for g in org.groups] and len(org.members) == len(org.groups)
    with pytest.raises(KeyError):
        org.members[org.groups[1]["targetName"]]  # the mapping is keyed by id only
    # No group lists the same member twice.
    for group in org.groups:
        ids = [i["member"]["id"] for i in org.members[group["id"]]]
        assert len(ids) == len(set(ids))


def test_members_json_is_the_json_of_member_items(org: Org):
    for index, group in enumerate(org.groups):
        assert json.loads(org.members_json(index, 0, 10**6)) == org.members[group["id"]]
        assert org.members_json(index, 0, 3) == to_json_bytes(org.members[group["id"]][:3])


def test_encoded_fragments_serve_the_same_pages(org_spec: OrgSpec):
    cold, warm = build_org(org_spec), build_org(org_spec)
    distinct = warm.encode_member_fragments()
    assert 0 < distinct <= warm.membership_rows()
    assert warm.encode_member_fragments() == distinct  # nothing left to encode
    for index in range(len(cold.groups)):
        assert warm.members_json(index, 0, 10**6) == cold.members_json(index, 0, 10**6)


def org_digest(org: Org) -> str:
    digest = hashlib.sha256()
    for part in (org.people, org.hidden_people, org.groups, org.devices, org.phone_devices):
        digest.update(to_json_bytes(part))
    for group in org.groups:
        digest.update(to_json_bytes(org.members[group["id"]]))
    return digest.hexdigest()


def test_same_seed_same_org_other_seed_other_org(org_spec: OrgSpec):
    assert org_digest(build_org(org_spec)) == org_digest(build_org(org_spec))
    other = build_org(OrgSpec(**{**org_spec.__dict__, "seed": org_spec.seed + 1}))
    assert {p["id"] for p in other.people}.isdisjoint(p["id"] for p in build_org(org_spec).people)


def test_the_org_is_identical_in_another_process_with_another_hash_seed(org_spec: OrgSpec):
    code = (
        "from simulator import OrgSpec, build_org\n"
        "from tests.simulator.test_org import org_digest\n"
        f"print(org_digest(build_org(OrgSpec(**{org_spec.__dict__!r}))))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert result.stdout.strip() == org_digest(build_org(org_spec))


def test_a_bigger_org_keeps_its_proportions():
    spec = OrgSpec(
        seed=5, people=3000, groups=300, members_per_group=20, hidden_people=10, large_group_size=1500
    )
    org = build_org(spec)
    regular_rows = org.membership_rows() - spec.large_group_size
    assert 0.9 * 299 * 20 < regular_rows < 1.1 * 299 * 20
    counts = org.member_count_by_type()
    assert counts["PERSON"] > 0.85 * org.membership_rows()
    assert len(org.hidden_people) == 10


@pytest.mark.parametrize(
    "overrides",
    [{"people": -1}, {"inactive_share": 1.5}, {"nested_group_share": 0.5, "device_member_share": 0.6}],
)
def test_invalid_specs_are_refused(overrides):
    with pytest.raises(ValueError):
        OrgSpec(**overrides)


def test_an_empty_org_builds():
    org = build_org(OrgSpec(people=0, groups=0, hidden_people=0, large_groups=0))
    assert org.people == [] and org.groups == [] and org.membership_rows() == 0


def test_with_changes_edits_a_copy_and_the_server_serves_it(org: Org):
    """The explicit edits tests make between two syncs; the session's org is shared and stays as it was."""
    group = next(g for g in org.groups[1:] if org.members[g["id"]])
    members = {m["member"]["id"] for m in org.members[group["id"]]}
    leaver = next(
        m["member"]["id"] for m in org.members[group["id"]] if m["member"]["recipientType"] == "PERSON"
    )
    joiner = next(p["id"] for p in org.people if p["id"] not in members)
    active = next(p for p in org.people if p["status"] == "ACTIVE")
    before = (org.person_memberships(), [p["status"] for p in org.people], org.members_json(1, 0, 1000))

    changed = org.with_changes(
        remove_members=[(group["id"], leaver)],
        add_members=[(group["id"], joiner)],
        statuses={active["id"]: "INACTIVE"},
    )

    assert (
        org.person_memberships(),
        [p["status"] for p in org.people],
        org.members_json(1, 0, 1000),
    ) == before
    assert changed.person_memberships() == (before[0] - {(group["id"], leaver)}) | {(group["id"], joiner)}
    assert {p["id"]: p["status"] for p in changed.people} == {
        p["id"]: ("INACTIVE" if p["id"] == active["id"] else p["status"]) for p in org.people
    }
    member_statuses = {
        m["member"]["id"]: m["member"].get("status") for g in changed.groups for m in changed.members[g["id"]]
    }
    if active["id"] in member_statuses:  # member items show the new status too
        assert member_statuses[active["id"]] == "INACTIVE"
    with pytest.raises(KeyError, match="no such person"):
        org.with_changes(statuses={"nobody": "INACTIVE"})

    with XmattersSimulator(org) as sim:
        url = sim.base_url
        sim.serve(changed)
        served = get(sim, "/people?limit=1000").json()
        assert sim.base_url == url
    assert {p["id"]: p["status"] for p in served["data"]}[active["id"]] == "INACTIVE"


def test_with_changes_replaces_a_person_and_a_group_in_place(org: Org):
    """`replace`: the old id gone everywhere (lists, member items, group lookups), the new one in
    its place with the same memberships; nothing else moves, and the session's org stays as it was."""
    person = org.people[0]
    group = next(g for g in org.groups[1:] if org.members[g["id"]])
    before = org.person_memberships()
    new_person, new_group = org.replaced_id(person["id"]), org.replaced_id(group["id"])
    assert org.devices  # derived and cached before the copy: the copy derives its own

    changed = org.with_changes(replace=[person["id"], group["id"]])

    assert org.person_memberships() == before and org.people[0] is person
    renamed = {person["id"]: new_person, group["id"]: new_group}
    assert changed.person_memberships() == {(renamed.get(g, g), renamed.get(p, p)) for g, p in before}
    assert [p["id"] for p in changed.all_people] == [renamed.get(p["id"], p["id"]) for p in org.all_people]
    assert [g["id"] for g in changed.groups] == [renamed.get(g["id"], g["id"]) for g in org.groups]
    assert changed.group_by_key(group["id"]) is None and changed.group_by_key(new_group)["id"] == new_group
    member_ids = {m["member"]["id"] for g in changed.groups for m in changed.members[g["id"]]}
    assert person["id"] not in member_ids and {d["owner"]["id"] for d in changed.devices} <= {
        p["id"] for p in changed.people
    }
    with pytest.raises(KeyError, match="no such person or group"):
        org.with_changes(replace=["nobody"])
    with XmattersSimulator(org) as sim:
        sim.serve(changed)
        served = get(sim, f"/groups/{new_group}/members?limit=1000").json()
    assert {m["group"]["id"] for m in served["data"]} == {new_group}


def test_hostile_text_changes_only_text(org_spec: OrgSpec):
    plain, hostile = build_org(org_spec), build_org(dataclasses.replace(org_spec, hostile_text=True))
    assert [p["id"] for p in hostile.all_people] == [p["id"] for p in plain.all_people]
    assert [g["id"] for g in hostile.groups] == [g["id"] for g in plain.groups]
    assert hostile.person_memberships() == plain.person_memberships()
    regular = hostile.groups[org_spec.large_groups :]
    assert regular[0]["targetName"] == "Ω" * 2500 and len(regular[0]["description"].encode()) > 10_000
    assert regular[2]["targetName"].isspace()
    assert (
        len(hostile.people[2]["targetName"].encode()) == 1100 == len(hostile.people[2]["webLogin"].encode())
    )
    assert "firstName" not in hostile.people[2]
    assert len(hostile.hidden_people[0]["firstName"].encode()) == 3000
    member = next(
        item["member"] for item in member_items(hostile) if item["member"]["id"] == hostile.people[0]["id"]
    )
    assert member["firstName"] == "Ж" * 600  # member references carry the same text
    assert not build_org(org_spec).spec.hostile_text  # off by default
