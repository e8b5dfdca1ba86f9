"""Listings that change while they are read: offset paging must not lose a row that still exists.

Deleting a row ahead of the offset between two page reads moves a later row onto a page already
read: before the re-read (paging.py), that person, group or member was silently missing from the
sync, so C1 saw a live user or grant removed (a live person who is a group member turned "not
visible to the connector account", status unspecified). Each case serves the org, then, from the
first request of a later page on, the org with one row deleted from the front.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable

import pytest

from pipelines.xmatters.client import XmattersClient
from pipelines.xmatters.paging import MAX_PASSES
from pipelines.xmatters.report import ExtractReport
from simulator import Org, XmattersSimulator
from simulator.app import _Page, _Response
from simulator.faults import Faults
from tests.xmatters.helpers import PASSWORD, USERNAME
from tests.xmatters.test_client import largest_group, member_ids, people_ids


class ChangingSimulator(XmattersSimulator):
    """Serves `org`; each request `changes_at(path)` picks serves `change(current org)` from then on."""

    def __init__(self, org: Org, changes_at: Callable[[str], bool], change: Callable[[Org], Org]) -> None:
        super().__init__(org, username=USERNAME, password=PASSWORD)
        self.changes_at = changes_at
        self.change = change

    def resolve(self, raw_path: str, faults: Faults) -> _Page | _Response:
        if self.changes_at(raw_path):
            self.serve(self.change(self.org))
        return super().resolve(raw_path, faults)


def _once(predicate: Callable[[str], bool]) -> Callable[[str], bool]:
    fired = []

    def first_time(path: str) -> bool:
        if fired or not predicate(path):
            return False
        fired.append(path)
        return True

    return first_time


def _later_page_of(listing: str) -> Callable[[str], bool]:
    return lambda path: path.startswith(f"/api/xm/1/{listing}") and "offset=" in path


def _first_people_pages(sim: XmattersSimulator) -> int:
    """How many times the people listing was read from its first page."""
    return sum(
        1 for _m, path, _s in sim.requests if path.startswith("/api/xm/1/people?") and "offset" not in path
    )


def _without_first_person(org: Org) -> Org:
    changed = copy.copy(org)
    changed.people = org.people[1:]
    return changed


def _without_first_group(org: Org) -> Org:
    changed = copy.copy(org)
    changed.groups = org.groups[1:]
    return changed


def test_a_person_deleted_between_people_pages_costs_no_other_person(xm_org, make_config):
    sim = ChangingSimulator(xm_org, _once(_later_page_of("people?")), _without_first_person)
    with sim, XmattersClient(make_config(base_url=sim.base_url)) as client:
        ids = people_ids(client)
    # every person who still exists, and the deleted one (read before the deletion), each once
    assert sorted(ids) == sorted(p["id"] for p in xm_org.people)


def test_a_group_deleted_between_group_pages_costs_no_other_group(xm_org, make_config):
    sim = ChangingSimulator(xm_org, _once(_later_page_of("groups?")), _without_first_group)
    with sim, XmattersClient(make_config(base_url=sim.base_url, page_size=5)) as client:
        ids = [group["id"] for page in client.group_pages() for group in page]
    assert sorted(ids) == sorted(g["id"] for g in xm_org.groups)


def test_a_member_removed_between_member_pages_costs_no_other_membership(xm_org, make_config):
    group = largest_group(xm_org)
    first_member = xm_org.members[group][0]["member"]["id"]

    def remove_first_member(org: Org) -> Org:
        return org.with_changes(remove_members=[(group, first_member)])

    sim = ChangingSimulator(xm_org, _once(_later_page_of(f"groups/{group}/members")), remove_first_member)
    with sim, XmattersClient(make_config(base_url=sim.base_url)) as client:
        ids = member_ids(client, group)
    assert sorted(ids) == sorted(item["member"]["id"] for item in xm_org.members[group])


def test_a_listing_that_keeps_changing_is_read_at_most_max_passes_times_then_warned(
    xm_org, make_config, caplog: pytest.LogCaptureFixture
):
    # a person deleted from the front at every later page: every pass sees its total change
    sim = ChangingSimulator(xm_org, _later_page_of("people?"), _without_first_person)
    report = ExtractReport()
    with (
        caplog.at_level(logging.INFO),
        sim,
        XmattersClient(make_config(base_url=sim.base_url), report) as client,
    ):
        ids = people_ids(client)
    assert len(ids) == len(set(ids)) and set(ids) <= {p["id"] for p in xm_org.people}
    first_pages = [
        path for _m, path, _s in sim.requests if path.startswith("/api/xm/1/people?") and "offset" not in path
    ]
    assert len(first_pages) == MAX_PASSES
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"changed while it was read {MAX_PASSES} times" in w for w in warnings), warnings
    # the re-reads are not counted as duplicate rows (each would count nearly every person again);
    # the first pass itself may see one: its read-ahead requests race, and each deletes a person, so a
    # page served after fewer deletions than the one before it repeats that page's last row
    assert report.duplicates_dropped < len(xm_org.people) // 2


def test_a_steady_listing_is_read_once(xm_sim, make_config, caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.INFO), XmattersClient(make_config()) as client:
        people_ids(client)
    first_pages = [
        p for _m, p, _s in xm_sim.requests if p.startswith("/api/xm/1/people?") and "offset" not in p
    ]
    assert len(first_pages) == 1
    assert not [r for r in caplog.records if "changed while it was read" in r.getMessage()]
