"""The member-call process answers like the in-process calls: same rows, skips, errors, counts, logs."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from pipelines.xmatters.client import XmattersClient
from pipelines.xmatters.errors import AuthError, XmattersError
from pipelines.xmatters.member_calls import MemberProcess, member_tables
from pipelines.xmatters.report import ExtractReport, SkippedGroup
from simulator import FaultRule
from tests.xmatters.helpers import PASSWORD, expected_memberships


def _groups(org) -> list[tuple[str, str]]:
    return [(g["id"], g["targetName"]) for g in org.groups]


def _collect(items) -> tuple[list[dict], list[SkippedGroup]]:
    tables, skipped = [], []
    for item in items:
        (skipped if isinstance(item, SkippedGroup) else tables).append(item)
    rows = pa.concat_tables(tables).to_pylist() if tables else []
    return sorted(rows, key=lambda row: (row["group_id"], row["member__id"])), skipped


def test_the_child_returns_the_rows_skips_and_counts_of_the_calls_in_this_process(
    xm_org, xm_sim, make_config
):
    deleted = xm_org.groups[3]
    xm_sim.faults.delete_groups([deleted["id"]])
    here = XmattersClient(make_config())
    expected_rows, expected_skips = _collect(member_tables(here, _groups(xm_org)))
    two_here = XmattersClient(make_config())
    expected_two, _ = _collect(member_tables(two_here, _groups(xm_org)[:2]))

    there = XmattersClient(make_config(), ExtractReport())
    with MemberProcess(there.config) as child:
        rows, skipped = _collect(child.member_tables(there, _groups(xm_org)))
        two, _ = _collect(child.member_tables(there, _groups(xm_org)[:2]))  # a second request

    assert rows == expected_rows and two == expected_two
    assert {(row["group_id"], row["member__id"]) for row in rows} == expected_memberships(
        xm_org, skip={deleted["id"]}
    )
    assert skipped == expected_skips
    assert [(s.group_id, s.name) for s in skipped] == [(deleted["id"], deleted["targetName"])]
    assert there.report.requests == here.report.requests + two_here.report.requests


def test_an_error_comes_back_classified_and_ends_the_child(xm_org, xm_sim, make_config):
    xm_sim.faults.add(FaultRule("status", status=401, path_contains="/members", after=3, times=1))
    client = XmattersClient(make_config(), ExtractReport())
    child = MemberProcess(client.config)
    with pytest.raises(AuthError, match=r"HTTP 401 from .*/members"):
        list(child.member_tables(client, _groups(xm_org)))
    assert client.report.requests >= 4  # the child's requests were counted
    assert not child.alive()  # ended, and reaped
    with pytest.raises(XmattersError, match="stopped by an earlier failure"):
        list(child.member_tables(client, _groups(xm_org)))
    child.stop()


def test_retries_are_counted_and_logged_here(xm_org, xm_sim, make_config, caplog):
    xm_sim.faults.add(FaultRule("status", status=429, path_contains="/members", times=2))
    client = XmattersClient(make_config(), ExtractReport())
    with caplog.at_level(logging.INFO, logger="pipelines"), MemberProcess(client.config) as child:
        list(child.member_tables(client, _groups(xm_org)))
    assert client.report.retries == 2
    retried = [
        r for r in caplog.records if r.name == "pipelines.xmatters.client" and "retrying in" in r.message
    ]
    # the child's first 429 retry is a warning; the second is counted only (client.get_json)
    assert [r.levelno for r in retried] == [logging.WARNING], retried


def test_a_child_that_dies_is_named_with_its_exit_code(xm_org, xm_sim, make_config):
    client = XmattersClient(make_config(), ExtractReport())
    with MemberProcess(client.config) as child:
        os.kill(child.pid, signal.SIGKILL)
        with pytest.raises(
            XmattersError, match=rf"member-call process \(pid {child.pid}\) exited with code -9"
        ):
            list(child.member_tables(client, _groups(xm_org)))


def test_a_cancelled_extract_stops_the_child_without_waiting_for_its_next_reply(xm_org, xm_sim, make_config):
    """`people` failed on another thread while every members call is still waiting on the server:
    the child is stopped then, not when its first table would arrive."""
    xm_sim.faults.add(FaultRule("slow", path_contains="/members", delay_s=2.0, times=None))
    client = XmattersClient(make_config(), ExtractReport())
    with MemberProcess(client.config) as child:
        threading.Timer(0.3, client.cancel).start()
        assert list(child.member_tables(client, _groups(xm_org))) == []  # no table ever arrived
        assert not child.alive()


def test_the_password_is_neither_on_the_command_line_nor_in_the_environment(xm_sim, make_config, monkeypatch):
    monkeypatch.setenv("BATON_PASSWORD", PASSWORD)
    with MemberProcess(make_config()) as child:
        proc = Path(f"/proc/{child.pid}")
        if not proc.exists():
            pytest.skip("no /proc on this platform")
        assert PASSWORD.encode() not in (proc / "cmdline").read_bytes()
        environ = (proc / "environ").read_bytes()
        assert PASSWORD.encode() not in environ and b"BATON_" not in environ


def test_the_calls_run_at_most_a_window_ahead_of_a_stalled_reader(xm_org, make_config, monkeypatch):
    """A reader that stops reading stops the calls once `concurrency x UNREAD_CALLS_PER_THREAD` are
    unread: finished pages no longer pile up (at scale L ~400 MB in the member-call process while
    the sync wrote the tables). Reading on finishes every group."""
    import functools
    import time

    from pipelines.xmatters import member_calls
    from pipelines.xmatters.member_pages import MembersBatcher

    monkeypatch.setattr(member_calls, "UNREAD_CALLS_PER_THREAD", 2)
    monkeypatch.setattr(member_calls, "MembersBatcher", functools.partial(MembersBatcher, batch_rows=1))
    groups = _groups(xm_org)
    window = 2 * 2  # concurrency x calls per thread
    assert len(groups) > 3 * window
    client = XmattersClient(make_config(concurrency=2), ExtractReport())
    started: list[str] = []
    real_call = client.group_member_pages

    def counted_call(group_id: str) -> Iterator[list]:
        started.append(group_id)
        return real_call(group_id)

    monkeypatch.setattr(client, "group_member_pages", counted_call)
    calls = member_tables(client, groups)
    first = next(calls)  # the first table, then the reader stalls
    time.sleep(0.5)
    stalled_at = len(started)
    rows, _ = _collect([first, *calls])
    assert stalled_at <= window + 1  # the unread window and the call just read
    assert sorted(started) == sorted(group_id for group_id, _ in groups)
    assert {(row["group_id"], row["member__id"]) for row in rows} == expected_memberships(xm_org)


def test_with_a_member_process_the_first_groups_page_starts_member_calls_before_the_listing_ends() -> None:
    """Each `/groups` page goes to the member-call process as it arrives (`source.OfferedGroups`):
    the first page's member calls are answered while later pages of the listing are still being
    read, and every membership is read once. Before, the calls started after the last page."""
    from pipelines.xmatters.config import XmattersConfig
    from pipelines.xmatters.source import xmatters_source
    from simulator import Faults, OrgSpec, XmattersSimulator, build_org

    org = build_org(OrgSpec(seed=5, people=20, groups=16, members_per_group=3, large_groups=0))
    faults = Faults(latency_s=0.05)
    with XmattersSimulator(org, username="u", password=PASSWORD, faults=faults) as sim:
        # 2 items a page: 8 pages of groups, listed in 3 rounds (the first page, then 4 ahead)
        config = XmattersConfig(
            base_url=sim.base_url, username="u", password=PASSWORD, page_size=2, concurrency=4
        )
        with MemberProcess(config) as child:
            assert list(child.member_tables(XmattersClient(config), [])) == []  # imported and ready
            sim.reset_counters()
            source = xmatters_source(config, member_process=child).with_resources("groups", "group_members")
            tables = [item for item in source.resources["group_members"]]
        paths = [path for _method, path, _status in sim.requests]
    rows = pa.concat_tables(tables).to_pylist()
    assert sorted((row["group_id"], row["member__id"]) for row in rows) == sorted(expected_memberships(org))
    last_groups_page = max(i for i, path in enumerate(paths) if "/groups?" in path)
    first_members_page = min(i for i, path in enumerate(paths) if "/members" in path)
    assert first_members_page < last_groups_page, paths[: last_groups_page + 1]


def test_a_member_call_failing_while_groups_are_still_offered_fails_with_its_own_error() -> None:
    """The child stops at a 401 on a members page while the `/groups` listing is still offering it
    pages: it exits with 1, offering to a child that has exited is no error of its own, and the
    extract fails with the classified error the child sent."""
    from dlt.extract.exceptions import ResourceExtractionError

    from pipelines.xmatters.config import XmattersConfig
    from pipelines.xmatters.loader import find_xmatters_error
    from pipelines.xmatters.source import xmatters_source
    from simulator import Faults, OrgSpec, XmattersSimulator, build_org

    org = build_org(OrgSpec(seed=5, people=20, groups=16, members_per_group=3, large_groups=0))
    faults = Faults(latency_s=0.05)
    faults.add(FaultRule("status", status=401, path_contains="/members", times=None))
    # the last of the 8 groups pages comes 0.5 s late: at concurrency 1 the child's window is 8
    # groups (4 pages), after which it reads the failed call, reports it and exits
    faults.add(FaultRule("slow", path_contains="/groups?limit=2&offset=14", delay_s=0.5, times=None))
    with XmattersSimulator(org, username="u", password=PASSWORD, faults=faults) as sim:
        config = XmattersConfig(
            base_url=sim.base_url, username="u", password=PASSWORD, page_size=2, concurrency=1
        )
        with MemberProcess(config) as child:
            assert list(child.member_tables(XmattersClient(config), [])) == []  # imported and ready
            source = xmatters_source(config, member_process=child).with_resources("groups", "group_members")
            with pytest.raises(ResourceExtractionError) as raised:
                list(source.resources["group_members"])
            # it exited on its own, with 1: not aborted by its reader thread at shutdown (-6)
            assert child._worker.child.process.wait(timeout=5) == 1
    assert isinstance(find_xmatters_error(raised.value), AuthError)
    assert "/members" in str(find_xmatters_error(raised.value))


def test_the_child_goes_on_calling_while_its_answer_waits_unread() -> None:
    """A sync that started the member calls before its run reads nothing for a second or more
    (`early_members.py`): the child queues its tables (`member_worker.QueuedReplies`, bounded) and
    keeps calling. Before, the pipe (64 KiB) stopped it at its first table of 16,384 rows plus the
    unread window (here 2 x 8 calls): ~180 of these 400 groups."""
    import time

    from pipelines.xmatters.config import XmattersConfig
    from simulator import Faults, OrgSpec, XmattersSimulator, build_org

    org = build_org(OrgSpec(seed=7, people=2_000, groups=400, members_per_group=100, large_groups=0))
    with XmattersSimulator(org, username="u", password=PASSWORD, faults=Faults()) as sim:
        config = XmattersConfig(base_url=sim.base_url, username="u", password=PASSWORD, concurrency=2)
        client = XmattersClient(config, ExtractReport())
        with MemberProcess(config) as child:
            child.offer(_groups(org), last=True)
            deadline = time.monotonic() + 30
            while sim.request_count < len(org.groups) and time.monotonic() < deadline:
                time.sleep(0.05)
            unread_calls = sim.request_count  # nothing was read yet
            rows, _ = _collect(child.offered_tables(client))
    assert unread_calls == len(org.groups)
    assert {(row["group_id"], row["member__id"]) for row in rows} == expected_memberships(org)


def test_groups_whose_names_exceed_one_frame_are_sent_in_parts(xm_org, xm_sim, make_config):
    """xMatters sets no limit on name lengths: a /groups page of 1,000 groups with 20 KB names is
    20 MB, over the 16 MB a frame's header may hold, and failed the extract ("a frame header of
    20046060 bytes"). Four groups of 1,000,000 "é" (6 MB of JSON each: `\\u00e9`), by request and
    by offer, get all their rows."""
    groups = [
        (group_id, f"{index}".ljust(1_000_000, "é")) for index, (group_id, _) in enumerate(_groups(xm_org))
    ]
    groups = groups[:4]
    chosen = {group_id for group_id, _ in groups}
    expected = {pair for pair in expected_memberships(xm_org) if pair[0] in chosen}
    client = XmattersClient(make_config(), ExtractReport())
    with MemberProcess(client.config) as child:
        requested, _ = _collect(child.member_tables(client, groups))
        child.offer(groups[:1], last=False)
        child.offer(groups[1:], last=True)
        offered, _ = _collect(child.offered_tables(client))
    assert {(row["group_id"], row["member__id"]) for row in requested} == expected
    assert {(row["group_id"], row["member__id"]) for row in offered} == expected
