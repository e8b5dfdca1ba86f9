"""Lone UTF-16 surrogate escapes (`\\ud83d` without its pair) in names: legal JSON, no Unicode text.

A server that cuts a name between the halves of a surrogate pair sends one half alone. The sync
used to fail on it (`UnicodeEncodeError` from the member calls or dlt's groups pipe); it now reads
it as U+FFFD, as C1's Go connector (Go's `encoding/json`) does, on every listing.
"""

from __future__ import annotations

import copy
import json

import pytest

from orchestration.cli import main
from pipelines.c1z.reader import open_c1z
from pipelines.xmatters.lone_surrogates import may_hold_lone_surrogates, replace_lone_surrogates
from simulator import Org, OrgSpec, XmattersSimulator, build_org
from simulator import org as simulator_org
from tests.orchestration.conftest import assert_sync_holds, expected_from_org
from tests.orchestration.test_sync_cli import published, sync_args

SPEC = OrgSpec(seed=5, people=12, groups=3, members_per_group=6, hidden_people=0, large_groups=0)


def _org_with_cut_names() -> tuple[Org, str, str]:
    """An org whose first member's first name and first group's description end in half a pair."""
    org = build_org(SPEC)
    group_id, person_id = sorted(org.person_memberships())[0]
    changed = copy.copy(org)
    changed.people = [{**p, "firstName": "Zoë \ud83d"} if p["id"] == person_id else p for p in org.people]
    changed.groups = [
        {**g, "description": "On call \udc00 team"} if g["id"] == group_id else g for g in org.groups
    ]
    changed._member_json_cache = {}
    return changed, person_id, group_id


def test_lone_surrogates_in_people_members_and_groups_become_replacement_characters(
    data_home, tmp_path, monkeypatch: pytest.MonkeyPatch
):
    # The simulator writes UTF-8; ASCII-escaped JSON is how a server sends a lone surrogate at all.
    ascii_json = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), check_circular=False)
    monkeypatch.setattr(simulator_org, "_ENCODER", ascii_json)
    org, person_id, group_id = _org_with_cut_names()
    sync_file = tmp_path / "sync.c1z"
    with XmattersSimulator(org) as sim:
        assert main(sync_args(sim, sync_file, "--log-level", "warning")) == 0

    assert_sync_holds(sync_file, expected_from_org(org))
    (user_name,) = published(data_home, f"SELECT display_name FROM c1.users WHERE user_id = '{person_id}'")[0]
    assert user_name.startswith("Zoë \ufffd ")
    query = f"SELECT description FROM c1.groups WHERE group_id = '{group_id}'"
    (description,) = published(data_home, query)[0]
    assert description == "On call \ufffd team"
    member_names = published(
        data_home, f"SELECT member_name FROM c1.memberships WHERE member_id = '{person_id}'"
    )
    assert member_names and all(name.startswith("Zoë \ufffd ") for (name,) in member_names)
    with open_c1z(sync_file) as reader:
        users = {r.id.resource: r.display_name for r in reader.resources("user")}
    assert users[person_id].startswith("Zoë \ufffd ")


def test_replace_lone_surrogates_keeps_pairs_and_reaches_keys_and_nested_values():
    body = rb'{"a\udc00": ["x\ud83d", {"b": "\ud83d\ude00 ok \\ud83d"}], "n": 1}'
    assert may_hold_lone_surrogates(body)
    assert not may_hold_lone_surrogates('{"a": "😀 \\u00e9"}'.encode())
    assert replace_lone_surrogates(json.loads(body)) == {
        "a\ufffd": ["x\ufffd", {"b": "\U0001f600 ok \\ud83d"}],
        "n": 1,
    }
