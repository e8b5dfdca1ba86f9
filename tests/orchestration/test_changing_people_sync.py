"""A whole sync while a person leaves `/people` between its pages (offset paging over changing data).

Before `/people` was read again on a changed `total` (pipelines/xmatters/paging.py), the person who
moved onto the page already read was missing from `/people`: being a group member, they came out
of the sync "not visible to the connector account" with status UNSPECIFIED, so C1 saw a live,
active user lose their status. Now every person `/people` listed stays visible with their status.
"""

from __future__ import annotations

from orchestration.cli import main
from simulator import OrgSpec, XmattersSimulator, build_org
from simulator.app import _Page, _Response, _RowsCollection
from simulator.faults import Faults
from tests.orchestration.test_sync_cli import published, sync_args

SPEC = OrgSpec(seed=5, people=12, groups=3, members_per_group=8, hidden_people=0, large_groups=0)
PAGE_SIZE = 4


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
