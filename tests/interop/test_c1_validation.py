"""What C1 receives passes ConductorOne's own validation, read by ConductorOne's own programs.

A sync of an organisation full of hostile but legal text (simulator `hostile_text`: 1,000-5,000-byte
names in multi-byte scripts, blank names, RTL and control characters, 10 KB descriptions, a
1,100-byte targetName and webLogin), with and without `--expand-nested-groups`, and the plain demo
sync: `gobaton-read` (baton-sdk's reader + `ValidateAll()`) exits 0 with exact counts, and every
read command of the `baton` CLI exits 0.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from orchestration import c1_limits_sql
from orchestration.cli import main
from orchestration.demo_command import demo_spec
from pipelines.c1z.email import c1_email
from pipelines.c1z.proto import pb
from pipelines.c1z.reader import open_c1z
from simulator import Org
from simulator.hostile_text import BAD_EMAIL, GROUP_TEXT, PERSON_TEXT
from tests.conftest import SMALL_ORG_SPEC, cached_org
from tests.interop.conftest import BATON_COMMANDS, C1Readers
from tests.orchestration.test_sync_cli import published, sync_args

HOSTILE_SPEC = dataclasses.replace(SMALL_ORG_SPEC, hostile_text=True)
DEMO_SPEC = demo_spec(people=300, groups=24, seed=7)  # what `demo --people 300 --groups 24` serves


def expected_counts(org: Org, *, expand: bool) -> dict[str, object]:
    """What gobaton-read must count, from the simulator's ground truth."""
    nested = {
        (gid, item["member"]["id"])
        for gid in org.members
        for item in org.members[gid]
        if item["member"]["recipientType"] == "GROUP"
    }
    by_principal = {"user": len(org.person_memberships())}
    if expand and nested:
        by_principal["group"] = len(nested)
    return {
        "resources_per_type": {"user": len(org.people) + len(org.hidden_people), "group": len(org.groups)},
        "entitlements": len(org.groups),
        "grants": sum(by_principal.values()),
        "grants_per_principal_type": by_principal,
        "grants_needs_expansion": by_principal.get("group", 0),
    }


def assert_c1_reads(readers: C1Readers, c1z: Path, expected: dict[str, object], scratch: Path) -> None:
    code, report = readers.validate(c1z)
    assert report["validation_failures"] == [], report["validation_failures"][:3]
    assert report["dangling_references"] == {}
    assert code == 0
    assert report["validateall_checked"] > 0
    assert {key: report[key] for key in expected} == expected
    assert readers.baton_exit_codes(c1z, scratch) == {c: (0, "") for c in BATON_COMMANDS}


@pytest.mark.parametrize("expand", [False, True], ids=["default", "expand-nested-groups"])
def test_hostile_text_sync_passes_c1_validation(
    expand, c1_readers, make_simulator, data_home, tmp_path, capsys
):
    org = cached_org(HOSTILE_SPEC)
    sync_file = tmp_path / "sync.c1z"
    extra = ["--expand-nested-groups", "--sync-emails"] if expand else []
    assert main(sync_args(make_simulator(HOSTILE_SPEC), sync_file, *extra)) == 0
    out = capsys.readouterr().out

    assert_c1_reads(c1_readers, sync_file, expected_counts(org, expand=expand), tmp_path / "baton")
    warning = next(line for line in out.splitlines() if "shortened to C1's limits" in line)
    assert warning.startswith("  warning        ")
    assert "group ΩΩΩΩΩΩΩΩΩΩΩΩΩΩΩΩ…" in warning


def test_plain_demo_sync_passes_c1_validation(c1_readers, data_home, tmp_path, capsys):
    sync_file = tmp_path / "demo.c1z"
    people, groups = str(DEMO_SPEC.people), str(DEMO_SPEC.groups)
    assert main(["demo", "--people", people, "--groups", groups, "-f", str(sync_file)]) == 0
    assert "shortened" not in capsys.readouterr().out

    assert_c1_reads(
        c1_readers, sync_file, expected_counts(cached_org(DEMO_SPEC), expand=False), tmp_path / "b"
    )


def test_hostile_text_is_shortened_in_the_file_and_kept_whole_in_the_warehouse(
    make_simulator, data_home, tmp_path
):
    org = cached_org(HOSTILE_SPEC)
    regular = org.groups[HOSTILE_SPEC.large_groups :]
    sync_file = tmp_path / "sync.c1z"
    assert main(sync_args(make_simulator(HOSTILE_SPEC), sync_file)) == 0

    with open_c1z(sync_file) as reader:
        groups = {r.id.resource: r for r in reader.resources("group")}
        users = {r.id.resource: r for r in reader.resources("user")}
        entitlements = {e.resource.id.resource: e for e in reader.entitlements()}
    omega, blank, tight = regular[0]["id"], regular[2]["id"], regular[4]["id"]
    name = groups[omega].display_name
    assert name.startswith("ΩΩ") and name.endswith("…") and len(name.encode()) == 1023  # 2-byte Ω: 1020 + 3
    assert len(groups[omega].description.encode()) <= 2048 and groups[omega].description.endswith("…")
    assert entitlements[omega].display_name == name  # the whole "<name> Group Member" shortened
    assert entitlements[omega].description.startswith("Member of the ΩΩ")
    assert groups[blank].display_name == blank  # a blank name falls back to the id
    assert (
        groups[regular[5]["id"]].display_name == regular[5]["id"] and not groups[regular[5]["id"]].description
    )
    assert groups[tight].display_name == GROUP_TEXT[4]["targetName"]  # 1,020 bytes: fits
    assert (
        entitlements[tight].display_name.endswith("…")
        and len(entitlements[tight].display_name.encode()) <= 1024
    )
    rocket = groups[regular[3]["id"]].display_name
    assert rocket.endswith("🚀…") and len(rocket.encode()) <= 1024  # never half a 4-byte character

    def trait(user: pb.Resource) -> pb.UserTrait:
        unpacked = pb.UserTrait()
        assert user.annotations[0].Unpack(unpacked)
        return unpacked

    long_names, blank_names, service, all_blank = (org.people[i] for i in range(4))
    assert users[long_names["id"]].display_name.startswith("ЖЖ")
    assert len(users[long_names["id"]].display_name.encode()) <= 1024
    assert users[blank_names["id"]].display_name == blank_names["targetName"]
    assert (
        users[all_blank["id"]].display_name == all_blank["id"] and trait(users[all_blank["id"]]).login == ""
    )
    svc = trait(users[service["id"]])  # login has no byte rule in C1: kept whole
    assert (svc.login, list(svc.login_aliases)) == (
        PERSON_TEXT[2]["webLogin"],
        [PERSON_TEXT[2]["targetName"]],
    )
    assert list(svc.employee_ids) == [PERSON_TEXT[2]["externalKey"]]
    assert users[service["id"]].display_name.startswith("svc/üü")

    assert published(data_home, f"SELECT display_name FROM c1.groups WHERE group_id = '{omega}'") == [
        (GROUP_TEXT[0]["targetName"],)
    ]
    full = published(data_home, f"SELECT display_name FROM c1.users WHERE user_id = '{long_names['id']}'")
    assert full == [("Ж" * 600 + " " + "ñ" * 400,)]


def test_a_shortening_regression_fails_the_limits_check_and_publishes_nothing(
    make_simulator, data_home, tmp_path, monkeypatch, capsys
):
    no_shortening = "CREATE OR REPLACE TEMP MACRO c1_shorten(s, n) AS s"
    monkeypatch.setattr(c1_limits_sql, "MACROS", (c1_limits_sql.MACROS[0], no_shortening))
    sync_file = tmp_path / "sync.c1z"
    assert main(sync_args(make_simulator(HOSTILE_SPEC), sync_file)) == 1
    err = capsys.readouterr().err
    assert "_c1_limits" in err and "values over C1's limits" in err and "nothing was published" in err
    assert not sync_file.exists()


def test_email_addresses_are_what_c1s_email_rule_accepts(make_simulator, data_home, tmp_path, capsys):
    org = cached_org(HOSTILE_SPEC)
    sync_file = tmp_path / "sync.c1z"
    assert main(sync_args(make_simulator(HOSTILE_SPEC), sync_file, "--sync-emails")) == 0
    out = capsys.readouterr().out

    with open_c1z(sync_file) as reader:
        addresses = set()
        for user in reader.resources("user"):
            trait = pb.UserTrait()
            assert user.annotations[0].Unpack(trait)
            addresses |= {email.address for email in trait.emails}
    assert addresses and all(c1_email(address) == address for address in addresses)
    assert any("@xn--exmple-cua.net" in address for address in addresses)  # exämple.net, IDNA form
    assert BAD_EMAIL[1] not in addresses
    assert (
        f"  warning        1 email address left out of the sync file, not valid for C1: {BAD_EMAIL[1]}" in out
    )
    warehouse = {row[0] for row in published(data_home, "SELECT address FROM c1.user_emails")}
    assert BAD_EMAIL[1] in warehouse and any("@exämple.net" in address for address in warehouse)
    assert len(warehouse) == len(org.devices)
