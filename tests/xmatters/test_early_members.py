"""`EarlyMembers`: the member calls and the `/groups` listing a CLI sync starts before its run."""

from __future__ import annotations

import os
import time

import pyarrow as pa
import pytest

from pipelines.xmatters import early_members
from pipelines.xmatters.client import XmattersClient
from pipelines.xmatters.early_members import NICENESS, EarlyMembers
from pipelines.xmatters.errors import AuthError
from pipelines.xmatters.report import ExtractReport
from simulator import FaultRule
from tests.xmatters.helpers import expected_memberships


def test_one_listing_feeds_the_groups_and_the_member_calls(xm_org, xm_sim, make_config):
    config = make_config()
    early = EarlyMembers(config)
    try:
        report = ExtractReport()
        client = XmattersClient(config, report)
        pages = list(early.pages(client))
        tables = [t for t in early.process.offered_tables(client) if isinstance(t, pa.Table)]
    finally:
        early.stop()
    listed = [item["id"] for page in pages for item in page]
    assert sorted(listed) == sorted(group["id"] for group in xm_org.groups)
    rows = pa.concat_tables(tables).to_pylist()
    assert {(row["group_id"], row["member__id"]) for row in rows} == expected_memberships(xm_org)
    assert report.requests == xm_sim.request_count  # the listing's and the child's requests
    with pytest.raises(RuntimeError, match="already read"):
        next(early.pages(client))


def test_the_early_child_runs_at_a_lower_priority(xm_sim, make_config):
    early = EarlyMembers(make_config())
    try:
        deadline = time.monotonic() + 10
        while os.getpriority(os.PRIO_PROCESS, early.process.pid) == os.getpriority(os.PRIO_PROCESS, 0):
            assert time.monotonic() < deadline, "the child never lowered its priority"
            time.sleep(0.02)
        assert os.getpriority(os.PRIO_PROCESS, early.process.pid) == min(
            19, os.getpriority(os.PRIO_PROCESS, 0) + NICENESS
        )
    finally:
        early.stop()


def test_a_failed_listing_is_raised_where_the_raw_step_reads_it(xm_sim, make_config):
    xm_sim.faults.add(FaultRule("status", status=401, path_contains="/groups", times=None))
    early = EarlyMembers(make_config())
    try:
        with pytest.raises(AuthError, match=r"HTTP 401 from .*/groups"):
            list(early.pages(XmattersClient(make_config())))
    finally:
        early.stop()
    assert not early.process.alive()


def test_the_slot_hands_over_once_and_only_for_the_same_settings(xm_sim, make_config):
    config = make_config()
    with early_members.started(config):
        other = early_members.take(make_config(concurrency=1))  # not what was started: stopped
        assert other is None
    with early_members.started(config):
        early = early_members.take(config)
        assert early is not None and early.process.alive()
        assert early_members.take(config) is None  # taken once
    assert not early.process.alive()  # the end of the block stopped it


def test_a_cancelled_extract_cancels_the_listing_still_under_way(xm_sim, make_config):
    """`people` failed while `/groups` is still listed (pages of 2 groups, each 0.3 s late): the
    raw step's cancelled client ends the early listing at its next request, not after 7 pages."""
    import threading

    from pipelines.xmatters.errors import XmattersError

    xm_sim.faults.add(FaultRule("slow", path_contains="/groups", delay_s=0.3, times=None))
    config = make_config(page_size=2)
    early = EarlyMembers(config)
    client = XmattersClient(config, ExtractReport())
    try:
        threading.Timer(0.1, client.cancel).start()
        started = time.monotonic()
        with pytest.raises(XmattersError, match="cancelled: the extract already failed"):
            list(early.pages(client))
        assert time.monotonic() - started < 1.5
    finally:
        early.stop()
    assert sum("/groups" in path for _method, path, _status in xm_sim.requests) < 7
