"""End to end: the simulator over real HTTP -> the dlt source -> `xmatters_raw` in a DuckDB file."""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

import pytest

from pipelines.xmatters.config import XmattersConfig
from pipelines.xmatters.errors import AuthError, UnavailableError
from pipelines.xmatters.loader import load_raw
from pipelines.xmatters.report import ExtractReport
from pipelines.xmatters.settings import GROUP_MEMBERS_SCHEMA, GROUPS_SCHEMA, PEOPLE_SCHEMA
from tests.xmatters.helpers import PAGE_SIZE, PASSWORD, expected_memberships, rows, snapshot, table_ids


def test_lands_exactly_the_simulated_org_over_several_pages(
    xm_org, xm_sim, make_config, warehouse, pipelines_dir
):
    report = ExtractReport()
    load_raw(make_config(), warehouse, pipelines_dir=pipelines_dir, report=report)

    people, groups, members = table_ids(warehouse)
    assert people == {p["id"] for p in xm_org.people}
    assert groups == {g["id"] for g in xm_org.groups}
    assert members == expected_memberships(xm_org)
    # Row counts equal id counts: nothing landed twice.
    assert rows(warehouse, "select count(*) from xmatters_raw.people") == [(len(xm_org.people),)]
    assert rows(warehouse, "select count(*) from xmatters_raw.group_members") == [(xm_org.membership_rows(),)]
    assert (report.rows["people"], report.rows["groups"], report.rows["group_members"]) == (
        len(xm_org.people),
        len(xm_org.groups),
        xm_org.membership_rows(),
    )
    assert report.skipped_groups == [] and report.retries == 0

    # Paging really happened: several /people pages and several member pages for the large group.
    paths = [path for _method, path, _status in xm_sim.requests]
    assert sum("/people?" in p for p in paths) == -(-len(xm_org.people) // PAGE_SIZE)
    largest = max(xm_org.member_counts().items(), key=lambda kv: kv[1])
    assert sum(f"/groups/{largest[0]}/members" in p for p in paths) == -(-largest[1] // PAGE_SIZE)
    assert all(f"limit={PAGE_SIZE}" in p for p in paths)
    # One members call chain per group, called by id.
    member_paths = {p.split("?")[0] for p in paths if "/members" in p}
    assert member_paths == {f"/api/xm/1/groups/{g['id']}/members" for g in xm_org.groups}
    assert xm_sim.request_count == report.requests


def test_columns_and_types_follow_the_raw_contract(xm_org, xm_sim, make_config, warehouse, pipelines_dir):
    load_raw(make_config(), warehouse, pipelines_dir=pipelines_dir)
    for table, schema in (
        ("people", PEOPLE_SCHEMA),
        ("groups", GROUPS_SCHEMA),
        ("group_members", GROUP_MEMBERS_SCHEMA),
    ):
        described = rows(
            warehouse,
            "select column_name, data_type from information_schema.columns "
            f"where table_schema = 'xmatters_raw' and table_name = '{table}' order by ordinal_position",
        )
        expected = [(f.name, "BOOLEAN" if str(f.type) == "bool" else "VARCHAR") for f in schema]
        assert described == expected


def test_values_are_mapped_from_the_api_fields(xm_org, xm_sim, make_config, warehouse, pipelines_dir):
    load_raw(make_config(), warehouse, pipelines_dir=pipelines_dir)

    person = next(p for p in xm_org.people if p.get("properties"))
    (row,) = rows(
        warehouse,
        "select target_name, status, first_name, web_login, externally_owned, site__id, site__name, "
        f"properties, when_created from xmatters_raw.people where id = '{person['id']}'",
    )
    assert row[:4] == (
        person["targetName"],
        person["status"],
        person.get("firstName"),
        person.get("webLogin"),
    )
    assert row[4] == person.get("externallyOwned")
    assert row[5:7] == (person["site"]["id"], person["site"].get("name"))
    assert json.loads(row[7]) == person["properties"]
    assert row[8] == person.get("whenCreated")

    nameless = [p for p in xm_org.people if "firstName" not in p]
    assert nameless, "the org should have people without a first name"
    assert rows(
        warehouse, f"select first_name from xmatters_raw.people where id = '{nameless[0]['id']}'"
    ) == [(None,)]

    group = xm_org.groups[0]
    (grow,) = rows(
        warehouse,
        "select target_name, group_type, status, allow_duplicates from xmatters_raw.groups "
        f"where id = '{group['id']}'",
    )
    assert grow == (group["targetName"], group["groupType"], group["status"], group.get("allowDuplicates"))

    loaded_types = dict(
        rows(
            warehouse, "select member__recipient_type, count(*) from xmatters_raw.group_members group by all"
        )
    )
    assert loaded_types == {k: v for k, v in xm_org.member_count_by_type().items() if v}
    assert set(loaded_types) == {"PERSON", "GROUP", "DEVICE", "DYNAMIC_TEAM"}
    devices = rows(
        warehouse,
        "select member__device_type, member__owner__id from xmatters_raw.group_members "
        "where member__recipient_type = 'DEVICE'",
    )
    assert devices and all(device_type and owner for device_type, owner in devices)


def test_hidden_people_appear_as_members_only(xm_org, xm_sim, make_config, warehouse, pipelines_dir):
    load_raw(make_config(), warehouse, pipelines_dir=pipelines_dir)
    hidden = {p["id"] for p in xm_org.hidden_people}
    people, _groups, members = table_ids(warehouse)
    assert hidden.isdisjoint(people)
    assert hidden & {member for _group, member in members}


def test_second_run_replaces_and_adds_no_duplicates(xm_org, xm_sim, make_config, warehouse, pipelines_dir):
    load_raw(make_config(), warehouse, pipelines_dir=pipelines_dir)
    first = snapshot(warehouse)
    load_raw(make_config(), warehouse, pipelines_dir=pipelines_dir)
    assert snapshot(warehouse) == first
    dup = rows(
        warehouse,
        "select count(*) from (select group_id, member__id from xmatters_raw.group_members group by all "
        "having count(*) > 1)",
    )
    assert dup == [(0,)]
    loads = Counter(status for (status,) in rows(warehouse, "select status from xmatters_raw._dlt_loads"))
    assert loads == {0: 2}


def test_failed_run_leaves_the_previous_snapshot_untouched(xm_sim, make_config, warehouse, pipelines_dir):
    load_raw(make_config(), warehouse, pipelines_dir=pipelines_dir)
    before = snapshot(warehouse)
    before_bytes = warehouse.read_bytes()

    with pytest.raises(AuthError) as raised:
        load_raw(make_config(password="wrong-password"), warehouse, pipelines_dir=pipelines_dir)
    message = str(raised.value)
    assert message.startswith("xmatters: HTTP 401 from ")
    assert f"{xm_sim.base_url}/people?limit={PAGE_SIZE}" in message or f"{xm_sim.base_url}/groups" in message
    assert "Authentication failed" in message  # the message xMatters sent
    assert "\n" not in message
    assert "wrong-password" not in message

    assert snapshot(warehouse) == before
    assert warehouse.read_bytes() == before_bytes
    # And a later good run still works from the same pipeline state.
    load_raw(make_config(), warehouse, pipelines_dir=pipelines_dir)
    assert snapshot(warehouse) == before


def test_a_failure_mid_extract_leaves_the_previous_snapshot_untouched(
    xm_org, xm_sim, make_config, warehouse, pipelines_dir
):
    from pipelines.xmatters.errors import ProtocolError
    from simulator import FaultRule

    load_raw(make_config(), warehouse, pipelines_dir=pipelines_dir)
    before = snapshot(warehouse)
    # People and groups read fine; a members page of one group is broken for good.
    group_id = xm_org.groups[-1]["id"]
    xm_sim.faults.add(FaultRule("data_not_list", path_contains=f"/groups/{group_id}/members", times=None))
    with pytest.raises(ProtocolError):
        load_raw(make_config(), warehouse, pipelines_dir=pipelines_dir)
    assert snapshot(warehouse) == before


def test_a_failing_people_listing_stops_the_member_calls_and_is_the_error_reported(
    warehouse: Path, pipelines_dir: Path
) -> None:
    """People are read beside the member calls: their failure must not wait for those calls."""
    from simulator import FaultRule, Faults, OrgSpec, XmattersSimulator, build_org

    org = build_org(OrgSpec(seed=5, people=40, groups=300, members_per_group=3, large_groups=0))
    faults = Faults(latency_s=0.02)
    faults.add(FaultRule("status", path_contains="/people", status=403, times=None))
    with XmattersSimulator(org, username="u", password=PASSWORD, faults=faults) as sim:
        config = XmattersConfig(base_url=sim.base_url, username="u", password=PASSWORD, concurrency=4)
        with pytest.raises(AuthError) as raised:
            load_raw(config, warehouse, pipelines_dir=pipelines_dir)
        member_calls = sum("/members" in path for _method, path, _status in sim.requests)
        base_url = sim.base_url

    assert str(raised.value).startswith(f"xmatters: HTTP 403 from {base_url}/people?")
    # 300 groups at 4 calls at a time and 20 ms each would take 1.5 s; the 403 comes after one call
    assert member_calls < 100, f"{member_calls} of 300 member calls were made after /people failed"


def test_the_secret_never_reaches_messages_logs_or_files(
    xm_sim, make_config, warehouse, pipelines_dir, tmp_path: Path, caplog
):
    import base64

    caplog.set_level(logging.DEBUG)
    load_raw(make_config(), warehouse, pipelines_dir=pipelines_dir)
    from simulator import FaultRule

    xm_sim.faults.add(FaultRule("status", status=503, times=None))
    with pytest.raises(UnavailableError) as raised:
        load_raw(make_config(max_attempts=2), warehouse, pipelines_dir=pipelines_dir)

    token = base64.b64encode(f"sim-user:{PASSWORD}".encode()).decode()
    needles = (PASSWORD, token)
    texts = [str(raised.value), repr(raised.value), caplog.text]
    chained = raised.value
    while chained is not None:
        texts += [str(chained), repr(chained)]
        chained = chained.__cause__ or chained.__context__
    for text in texts:
        for needle in needles:
            assert needle not in text
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for needle in needles:
                assert needle.encode() not in data, f"secret found in {path}"
