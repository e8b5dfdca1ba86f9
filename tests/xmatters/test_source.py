"""The dlt source: deleted groups, concurrency, construction without network, dlt's config route."""

from __future__ import annotations

import base64
import logging
import threading

import pyarrow as pa
import pytest
from dlt.extract.exceptions import ResourceExtractionError

from pipelines.xmatters import settings
from pipelines.xmatters.client import XmattersClient
from pipelines.xmatters.config import XmattersConfig
from pipelines.xmatters.errors import AuthError, ConfigError
from pipelines.xmatters.loader import find_xmatters_error, load_raw, raw_pipeline
from pipelines.xmatters.report import ExtractReport
from pipelines.xmatters.source import joined_tables, xmatters_source
from simulator import FaultRule
from tests.xmatters.helpers import PASSWORD, USERNAME, expected_memberships, rows, table_ids


def test_a_group_deleted_mid_sync_is_kept_without_members_and_reported(
    xm_org, xm_sim, make_config, warehouse, pipelines_dir, caplog
):
    # One deleted by id, one by a name that needs URL encoding: the members call answers 404 for both.
    by_id = xm_org.groups[2]
    by_name = next(g for g in xm_org.groups if "/" in g["targetName"] and g is not by_id)
    xm_sim.faults.delete_groups([by_id["id"], by_name["targetName"]])
    report = ExtractReport()

    load_raw(make_config(), warehouse, pipelines_dir=pipelines_dir, report=report)

    deleted = {by_id["id"], by_name["id"]}
    people, groups, members = table_ids(warehouse)
    assert groups == {g["id"] for g in xm_org.groups}  # both groups kept as listed
    assert members == expected_memberships(xm_org, skip=deleted)
    assert not {group for group, _member in members} & deleted
    assert people == {p["id"] for p in xm_org.people}
    assert len(report.skipped_groups) == 2
    assert {(s.group_id, s.name) for s in report.skipped_groups} == {
        (g["id"], g["targetName"]) for g in (by_id, by_name)
    }
    for skipped in report.skipped_groups:
        assert skipped.reason.startswith(
            f"xmatters: HTTP 404 from {xm_sim.base_url}/groups/{skipped.group_id}"
        )
    warnings = [
        r for r in caplog.records if r.levelno == logging.WARNING and "deleted during the sync" in r.message
    ]
    assert len(warnings) == 2


def test_group_names_that_need_encoding_land_unchanged(xm_org, xm_sim, make_config, warehouse, pipelines_dir):
    load_raw(make_config(), warehouse, pipelines_dir=pipelines_dir)
    loaded = dict(rows(warehouse, "select id, target_name from xmatters_raw.groups"))
    assert loaded == {g["id"]: g["targetName"] for g in xm_org.groups}
    names = dict(
        rows(warehouse, "select distinct group_id, group__target_name from xmatters_raw.group_members")
    )
    assert all(names[g["id"]] == g["targetName"] for g in xm_org.groups if g["id"] in names)


@pytest.mark.parametrize("concurrency", [1, 4])
def test_member_calls_overlap_up_to_the_concurrency(xm_org, xm_sim, make_config, monkeypatch, concurrency):
    """Count member calls in flight inside the client; a latency fault keeps each call open for a while."""
    in_flight = 0
    peak = 0
    lock = threading.Lock()
    original = XmattersClient.group_member_pages

    def counting(self, group_id):
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        try:
            yield from original(self, group_id)
        finally:
            with lock:
                in_flight -= 1

    monkeypatch.setattr(XmattersClient, "group_member_pages", counting)
    xm_sim.faults.latency_s = 0.05
    source = xmatters_source(config=make_config(concurrency=concurrency)).with_resources("group_members")
    loaded = [row for table in source.resources["group_members"] for row in table.to_pylist()]
    assert {(r["group_id"], r["member__id"]) for r in loaded} == expected_memberships(xm_org)
    if concurrency == 1:
        assert peak == 1
    else:
        assert 1 < peak <= concurrency
    print(f"concurrency={concurrency}: peak in-flight member calls {peak}")


def test_a_failing_member_call_fails_the_extract_and_cancels_the_rest(xm_org, xm_sim, make_config):
    xm_sim.faults.latency_s = 0.02
    xm_sim.faults.add(FaultRule("status", status=401, path_contains="/members", after=2, times=None))
    report = ExtractReport()
    source = xmatters_source(config=make_config(concurrency=2), report=report).with_resources("group_members")
    with pytest.raises(ResourceExtractionError) as raised:  # dlt's wrapper when iterated directly
        list(source.resources["group_members"])
    assert isinstance(find_xmatters_error(raised.value), AuthError)
    # Not every group's members were requested after the failure.
    member_requests = [p for _m, p, _s in xm_sim.requests if "/members" in p]
    assert len(member_requests) < len(xm_org.groups)


def test_the_source_builds_with_a_placeholder_config_without_network(xm_sim):
    placeholder = XmattersConfig("https://placeholder.invalid/api/xm/1", "placeholder", "placeholder")
    source = xmatters_source(config=placeholder)
    assert source.name == "xmatters"
    assert set(source.resources) == {"people", "groups", "group_members", "email_devices"}
    assert source.resources["group_members"].write_disposition == "replace"
    assert xm_sim.request_count == 0


def test_dlt_config_route_and_no_secret_in_files(xm_org, xm_sim, monkeypatch, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("SOURCES__XMATTERS__BASE_URL", xm_sim.base_url)
    monkeypatch.setenv("SOURCES__XMATTERS__USERNAME", USERNAME)
    monkeypatch.setenv("SOURCES__XMATTERS__XMATTERS_PASSWORD", PASSWORD)
    monkeypatch.setenv("SOURCES__XMATTERS__PAGE_SIZE", "200")
    monkeypatch.setenv("SOURCES__XMATTERS__BACKOFF_CAP_S", "0.05")
    warehouse = tmp_path / "w.duckdb"
    pipeline = raw_pipeline(warehouse, pipelines_dir=tmp_path / "dlt")
    pipeline.run(xmatters_source())

    people, groups, members = table_ids(warehouse)
    assert people == {p["id"] for p in xm_org.people}
    assert members == expected_memberships(xm_org)
    assert all("limit=200" in path for _m, path, _s in xm_sim.requests)

    token = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    for needle in (PASSWORD, token):
        assert needle not in caplog.text
        assert needle not in str(pipeline.last_trace)
        for path in tmp_path.rglob("*"):
            if path.is_file():
                assert needle.encode() not in path.read_bytes(), f"secret found in {path}"


def test_dlt_config_route_names_a_missing_password(xm_sim, monkeypatch):
    monkeypatch.setenv("SOURCES__XMATTERS__BASE_URL", xm_sim.base_url)
    monkeypatch.setenv("SOURCES__XMATTERS__USERNAME", USERNAME)
    monkeypatch.setenv("PASSWORD", PASSWORD)  # a bare PASSWORD must not be picked up
    with pytest.raises(ConfigError) as raised:
        xmatters_source()
    assert str(raised.value) == (
        "xmatters: missing [sources.xmatters] xmatters_password in .dlt/secrets.toml "
        "(or SOURCES__XMATTERS__XMATTERS_PASSWORD)"
    )
    assert xm_sim.request_count == 0


def test_email_devices_are_read_only_when_asked(xm_sim, make_config):
    config = make_config()
    source = xmatters_source(config=config).with_resources("email_devices")
    # not asked: one empty table (the raw table is still replaced, with its declared columns)
    assert [(t.num_rows, t.schema) for t in source] == [(0, settings.EMAIL_DEVICES_SCHEMA)]
    assert xm_sim.request_count == 0

    rows = [
        row
        for table in xmatters_source(config=config, sync_emails=True).with_resources("email_devices")
        for row in table.to_pylist()
    ]
    expected = [d for d in xm_sim.org.devices if d.get("emailAddress")]
    assert {r["id"] for r in rows} == {d["id"] for d in expected}
    by_id = {d["id"]: d for d in expected}
    for row in rows:
        device = by_id[row["id"]]
        assert (row["owner__id"], row["email_address"], row["sequence"]) == (
            device["owner"]["id"],
            device["emailAddress"],
            device["sequence"],
        )
    assert all("deviceType=EMAIL" in path for _, path, _ in xm_sim.requests)


def test_a_skipped_group_with_escapes_in_its_name_is_warned_escaped_and_stored_as_sent(
    xm_org, xm_sim, make_config, warehouse, pipelines_dir, caplog, monkeypatch
):
    group = xm_org.groups[3]
    hostile = "ops\x1b]0;owned\x07\x1b[2J"
    monkeypatch.setitem(group, "targetName", hostile)
    xm_sim.faults.delete_groups([group["id"]])
    load_raw(make_config(), warehouse, pipelines_dir=pipelines_dir)
    warnings = [r.getMessage() for r in caplog.records if "deleted during the sync" in r.getMessage()]
    assert len(warnings) == 1
    assert f"group ops\\x1b]0;owned\\x07\\x1b[2J ({group['id']}) kept without members" in warnings[0]
    assert "\x1b" not in caplog.text
    stored = rows(warehouse, f"select target_name from xmatters_raw.groups where id = '{group['id']}'")
    assert stored == [(hostile,)]  # data keeps what xMatters holds


def test_tables_are_joined_for_dlt_in_order_without_losing_a_row() -> None:
    schema = pa.schema([pa.field("id", pa.string(), nullable=False)])

    def table(first: int, count: int) -> pa.Table:
        return pa.Table.from_pydict({"id": [f"r-{n}" for n in range(first, first + count)]}, schema=schema)

    tables = [table(0, 3), table(3, 2), table(5, 4), table(9, 1), table(10, 2)]

    joined = list(joined_tables(tables, 5))

    assert [t.num_rows for t in joined] == [5, 5, 2]  # at least 5 rows each, the rest last
    assert all(t.schema == schema for t in joined)
    assert [v for t in joined for v in t.column("id").to_pylist()] == [f"r-{n}" for n in range(12)]
    assert list(joined_tables([tables[0]], 5)) == [tables[0]]
    assert list(joined_tables([], 5)) == []
