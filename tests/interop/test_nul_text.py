"""U+0000 (NUL) in xMatters text never reaches the `.c1z`.

JSON carries NUL (`"\\u0000"`), xMatters stores it, protobuf and baton-sdk's `ValidateAll()` accept
it, so it used to pass into display names, logins and profiles. ConductorOne keeps what it ingests
in PostgreSQL, whose `text` and `jsonb` refuse NUL ("invalid byte sequence", "unsupported Unicode
escape sequence"): such a file would pass every check here and fail (or be cut) on C1's side. Now
every text the `.c1z` gets has NUL removed (a value left blank counts as missing, falling back as
a blank name does); `xmatters_raw` keeps what xMatters sent.
"""

from __future__ import annotations

import copy
import json
import subprocess

from orchestration.cli import main
from pipelines.c1z.proto import pb
from pipelines.c1z.reader import open_c1z
from simulator import OrgSpec, XmattersSimulator, build_org
from tests.interop.conftest import C1Readers
from tests.orchestration.test_sync_cli import published, sync_args

SPEC = OrgSpec(seed=11, people=4, groups=2, members_per_group=3, hidden_people=0, large_groups=0)


def test_nul_is_removed_from_every_text_of_the_c1z(data_home, tmp_path, c1_readers: C1Readers):
    org = build_org(SPEC)
    served = copy.copy(org)
    ann, bob = org.people[0]["id"], org.people[1]["id"]
    group = org.groups[0]["id"]
    people = {p["id"]: dict(p) for p in org.people}
    people[ann].update(
        firstName="An\x00n", lastName="Lee\x00", webLogin="ann\x00lee", targetName="ann.lee",
        externalKey="E\x0042", properties={"Note\x00": "on\x00call"},
    )  # fmt: skip
    people[bob].update(firstName="\x00", lastName=None, targetName="\x00bob")
    groups = {g["id"]: dict(g) for g in org.groups}
    groups[group].update(targetName="Ops\x00", description="\x00\x00")
    served.__dict__["people"] = list(people.values())
    served.__dict__["groups"] = list(groups.values())
    sync_file = tmp_path / "sync.c1z"
    with XmattersSimulator(served) as sim:
        assert main(sync_args(sim, sync_file, "--log-level", "warning")) == 0

    with open_c1z(sync_file) as reader:
        users = {u.id.resource: u for u in reader.resources("user")}
        groups_read = {g.id.resource: g for g in reader.resources("group")}
        entitlements = {e.id: e for e in reader.entitlements()}
    trait = pb.UserTrait()
    assert users[ann].annotations[0].Unpack(trait)
    assert users[ann].display_name == "Ann Lee"
    assert (trait.login, list(trait.login_aliases), list(trait.employee_ids)) == (
        "annlee",
        ["ann.lee"],
        ["E42"],
    )
    profile = json.loads(_json(trait.profile))
    assert (profile["firstName"], profile["lastName"], profile["properties"]) == (
        "Ann",
        "Lee",
        {"Note": "oncall"},
    )
    assert users[bob].display_name == "bob"  # firstName of NUL alone: missing, so the targetName
    assert groups_read[group].display_name == "Ops" and groups_read[group].description == ""
    assert entitlements[f"group:{group}:member"].display_name == "Ops Group Member"

    # ConductorOne's own reader: no NUL anywhere in what it reads
    done = subprocess.run(
        [str(c1_readers.gobaton_read), "-samples", "1000", str(sync_file)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout
    assert "\\u0000" not in done.stdout
    # the raw layer keeps what xMatters sent
    [(first_name,)] = published(data_home, f"SELECT first_name FROM xmatters_raw.people WHERE id = '{ann}'")
    assert first_name == "An\x00n"


def _json(struct: object) -> str:
    from google.protobuf.json_format import MessageToJson

    return MessageToJson(struct)  # type: ignore[arg-type]
