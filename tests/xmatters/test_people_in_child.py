"""`/people` listed by the member-call child (`MemberProcess(people=True)`): the raw `people` table and
every `/people` error are the ones of the listing in the sync's own process."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from pipelines.xmatters.client import XmattersClient
from pipelines.xmatters.config import XmattersConfig
from pipelines.xmatters.errors import AuthError, XmattersError
from pipelines.xmatters.loader import find_xmatters_error, raw_pipeline
from pipelines.xmatters.member_calls import MemberProcess
from pipelines.xmatters.people_pages import people_tables
from pipelines.xmatters.report import ExtractReport
from pipelines.xmatters.source import xmatters_source
from simulator import FaultRule, Faults, OrgSpec, XmattersSimulator, build_org
from tests.xmatters.helpers import PASSWORD, snapshot

_DLT_COLUMNS = ("_dlt_load_id", "_dlt_id")


def _load(config: XmattersConfig, home: Path, *, in_child: bool) -> dict:
    """One extract and load into `home`'s warehouse, `/people` in the child or here; the dlt schema's
    `people` table. Raises the classified error as the loader does."""
    pipeline = raw_pipeline(home / "warehouse.duckdb", pipelines_dir=home / "dlt")
    process = MemberProcess(config, people=True) if in_child else None
    try:
        pipeline.run(xmatters_source(config, report=ExtractReport(), member_process=process))
    except PipelineStepFailed as exc:
        cause = find_xmatters_error(exc)
        if cause is None:
            raise
        raise cause from None
    finally:
        if process is not None:
            process.stop()
    return pipeline.default_schema.tables["people"]


def _people(home: Path) -> tuple[list[tuple], list[tuple]]:
    """The raw people rows (without dlt's per-load columns), sorted, and the table's column types."""
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        described = con.sql("DESCRIBE xmatters_raw.people").fetchall()
        columns = [row[0] for row in described if row[0] not in _DLT_COLUMNS]
        rows = con.sql(f"SELECT {', '.join(columns)} FROM xmatters_raw.people ORDER BY ALL").fetchall()
        return rows, [row[:3] for row in described]
    finally:
        con.close()


def _without_load_ids(table: dict) -> dict:
    return {key: value for key, value in table.items() if key not in ("x-normalizer",)}


def test_the_raw_people_table_is_the_same_through_the_child(xm_org, xm_sim, make_config, tmp_path):
    here_schema = _load(make_config(), tmp_path / "here", in_child=False)
    child_schema = _load(make_config(), tmp_path / "child", in_child=True)

    here_rows, here_types = _people(tmp_path / "here")
    child_rows, child_types = _people(tmp_path / "child")
    assert len(child_rows) == len(xm_org.people)
    assert child_rows == here_rows
    assert child_types == here_types
    assert _without_load_ids(child_schema) == _without_load_ids(here_schema)


def test_the_childs_tables_equal_the_listing_here_with_their_schema(xm_sim, make_config):
    here = pa.concat_tables(people_tables(XmattersClient(make_config()).people_pages()))
    report = ExtractReport()
    with MemberProcess(make_config(), people=True) as child:
        there = pa.concat_tables(child.people_tables(XmattersClient(make_config(), report)))
    assert there.equals(here, check_metadata=True)
    assert report.requests == xm_sim.request_count // 2  # the child's requests, counted here


# Every way `/people` fails (the client's, paging's and the hostile server's checks).
PEOPLE_FAULTS = {
    "401": (FaultRule("status", status=401, times=None), {}),
    "403": (FaultRule("status", status=403, message="Role lacks People read", times=None), {}),
    "503 until given up": (FaultRule("status", status=503, times=None), {"max_attempts": 2}),
    "a 500 on the second page": (FaultRule("status", status=500, after=1, times=None), {"max_attempts": 2}),
    "malformed JSON": (FaultRule("malformed_json", times=None), {"max_attempts": 2}),
    "truncated JSON": (FaultRule("truncated_json", times=None), {"max_attempts": 2}),
    "HTML": (FaultRule("html_200", times=None), {}),
    "no data list": (FaultRule("data_not_list", times=None), {}),
    "an item without id": (FaultRule("item_without_id", times=None), {}),
    "paging loop": (FaultRule("next_loop", times=None), {}),
    "foreign next link": (FaultRule("next_foreign", times=None), {}),
    "endless next links": (FaultRule("endless_next", times=None), {}),
    "JSON nested too deep": (FaultRule("deep_json", times=None), {}),
    "oversize body": (FaultRule("huge_body", size_bytes=4 * 2**20, times=None), {"max_response_mib": 1}),
}


@pytest.mark.parametrize("fault", PEOPLE_FAULTS, ids=str)
def test_a_failing_people_listing_fails_with_the_same_error_through_the_child(
    xm_sim, make_config, tmp_path, fault: str
):
    rule, settings = PEOPLE_FAULTS[fault]
    config = make_config(**settings)
    errors: list[BaseException] = []
    for home, in_child in ((tmp_path / "here", False), (tmp_path / "child", True)):
        xm_sim.faults.clear()
        xm_sim.faults.add(dataclasses.replace(rule, path_contains="/people"))  # counted afresh
        with pytest.raises(XmattersError) as raised:
            _load(config, home, in_child=in_child)
        errors.append(raised.value)
    here, child = errors
    assert type(child) is type(here)
    assert str(child) == str(here)
    assert "\n" not in str(child)


def test_a_404_on_people_names_the_base_url_through_the_child_too(xm_sim, make_config, tmp_path):
    config = make_config(base_url=f"{xm_sim.origin}/wrong/api/xm/1")
    errors = []
    for home, in_child in ((tmp_path / "here", False), (tmp_path / "child", True)):
        with pytest.raises(XmattersError) as raised:
            _load(config, home, in_child=in_child)
        errors.append((type(raised.value), str(raised.value)))
    assert errors[0] == errors[1]


def test_a_people_failure_in_the_child_cancels_its_member_calls_and_keeps_the_raw_tables(
    tmp_path: Path,
) -> None:
    """The listing (200 pages at 20 ms, 4 ahead: ~1 s) fails on page 121 while the child's member
    calls (300 groups at 20 ms, 4 at a time: ~1.5 s) are under way: the error is that 403, the calls
    stop, and the raw tables of the previous load stay as they were."""
    org = build_org(OrgSpec(seed=5, people=4_000, groups=300, members_per_group=3, large_groups=0))
    faults = Faults(latency_s=0.02)
    with XmattersSimulator(org, username="u", password=PASSWORD, faults=faults) as sim:
        config = XmattersConfig(
            base_url=sim.base_url, username="u", password=PASSWORD, concurrency=4, page_size=20
        )
        _load(config, tmp_path, in_child=True)
        before = snapshot(tmp_path / "warehouse.duckdb")
        calls_before = sum("/members" in path for _method, path, _status in sim.requests)
        faults.add(FaultRule("status", path_contains="/people", status=403, after=120, times=None))
        with pytest.raises(AuthError) as raised:
            _load(config, tmp_path, in_child=True)
        time.sleep(0.3)  # calls still going on would be seen now
        member_calls = sum("/members" in path for _method, path, _status in sim.requests) - calls_before
        base_url = sim.base_url

    assert str(raised.value).startswith(f"xmatters: HTTP 403 from {base_url}/people?limit=20&offset=")
    assert "\n" not in str(raised.value)
    assert 0 < member_calls < 250, f"{member_calls} of 300 member calls were made"
    assert snapshot(tmp_path / "warehouse.duckdb") == before
