"""A whole sync while a person leaves `/people` between its pages (offset paging over changing data).

Before `/people` was read again on a changed `total` (pipelines/xmatters/paging.py), the person who
moved onto the page already read was missing from `/people`: being a group member, they came out
of the sync "not visible to the connector account" with status UNSPECIFIED, so C1 saw a live,
active user lose their status. Now every person `/people` listed stays visible with their status.
"""

from __future__ import annotations

from orchestration.cli import main
from pipelines.c1z.proto import pb
from pipelines.c1z.reader import open_c1z
from simulator import OrgSpec, XmattersSimulator, build_org
from simulator.app import _Page, _Response, _RowsCollection
from simulator.faults import Faults
from tests.orchestration.test_sync_cli import published, sync_args

SPEC = OrgSpec(seed=5, people=12, groups=3, members_per_group=8, hidden_people=0, large_groups=0)
PAGE_SIZE = 4
NEWCOMER = "00000000-0000-4000-8000-000000000001"


class FirstPersonLeavesPeople(XmattersSimulator):
    """From the first request of a later `/people` page on, `/people` no longer lists person 0."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.left = False
        self._people = _RowsCollection(lambda: self.org.people[1:] if self.left else self.org.people)

    def resolve(self, raw_path: str, faults: Faults) -> _Page | _Response:
        if not self.left and raw_path.startswith("/api/xm/1/people?") and "offset=" in raw_path:
            self.left = True
            self.serve(self.org)  # drops the pages the simulator cached: they listed person 0
        return super().resolve(raw_path, faults)


def test_a_person_leaving_people_mid_listing_costs_no_other_person_their_status(data_home, tmp_path):
    org = build_org(SPEC)
    moved = org.people[PAGE_SIZE]  # the first person of page two, who moves onto page one
    assert any(person == moved["id"] for _group, person in org.person_memberships())
    sync_file = tmp_path / "sync.c1z"
    with FirstPersonLeavesPeople(org) as sim:
        extra = ("--page-size", str(PAGE_SIZE), "--log-level", "warning")
        assert main(sync_args(sim, sync_file, *extra)) == 0
        assert sim.left
    users = {row[0]: row[1:] for row in published(data_home, "SELECT user_id, visible, status FROM c1.users")}
    status = {"ACTIVE": "ENABLED", "INACTIVE": "DISABLED"}
    # person 0 was read on page one before leaving; every other person is still there
    assert users == {p["id"]: (True, status[p["status"]]) for p in org.people}


class PersonAddedAndOneDeactivated(XmattersSimulator):
    """From the first request of a later `/people` page on, a new person is listed first (the rows
    move one place on) and `victim` is INACTIVE, updated now: the administrator's edits between two
    page reads."""

    def __init__(self, org, victim: dict, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(org, *args, **kwargs)
        self.changed = False
        newcomer = {**org.people[0], "id": NEWCOMER, "targetName": "new.person"}
        edited = {**victim, "status": "INACTIVE", "whenUpdated": "2026-12-01T00:00:00.000Z"}
        after = [newcomer, *(edited if p is victim else p for p in org.people)]
        self._people = _RowsCollection(lambda: after if self.changed else self.org.people)

    def resolve(self, raw_path: str, faults: Faults) -> _Page | _Response:
        if not self.changed and raw_path.startswith("/api/xm/1/people?") and "offset=" in raw_path:
            self.changed = True
            self.serve(self.org)  # drops the cached pages
        return super().resolve(raw_path, faults)


def test_a_person_deactivated_while_people_is_read_is_synced_as_last_read(data_home, tmp_path):
    """A person read ACTIVE on page one, then listed again INACTIVE (a newer `whenUpdated`) when the
    listing is read again (a person added meanwhile moved the rows): the newer copy wins, as
    c1_staging.users orders copies by `whenUpdated`. The extract used to keep the first copy of an
    id and drop the rest, so C1 got the user ENABLED, a state xMatters no longer had."""
    org = build_org(SPEC)
    victim = next(p for p in org.people[:PAGE_SIZE] if p["status"] == "ACTIVE")
    sync_file = tmp_path / "sync.c1z"
    with PersonAddedAndOneDeactivated(org, victim) as sim:
        extra = ("--page-size", str(PAGE_SIZE), "--log-level", "warning")
        assert main(sync_args(sim, sync_file, *extra)) == 0
        assert sim.changed
    users = {row[0]: row[1:] for row in published(data_home, "SELECT user_id, visible, status FROM c1.users")}
    assert users[victim["id"]] == (True, "DISABLED")
    assert users[NEWCOMER][0] is True
    assert len(users) == len(org.people) + 1
    with open_c1z(sync_file) as reader:
        (user,) = [r for r in reader.resources("user") if r.id.resource == victim["id"]]
    trait = pb.UserTrait()
    next(a for a in user.annotations if a.Is(pb.UserTrait.DESCRIPTOR)).Unpack(trait)
    assert trait.status.status == pb.UserTrait.Status.STATUS_DISABLED
