"""A list page without `total`: paging goes on by `links.next`, and the user is told once.

xMatters documents `total` on every page of every list endpoint; the re-read of a listing that
changed while it was read (paging.py) compares the first page's `total` with later pages'. A page
without one turned that check off without a word: a change while the listing was read (a row
offset paging skipped) could not be seen. Failing the sync would be worse (the rows are all there
unless the data changed meanwhile, and one third-party client claims `total` can be missing after
page one), so the client warns once and completes.
"""

from __future__ import annotations

import logging

import pytest

from pipelines.xmatters.client import XmattersClient
from simulator.faults import FaultRule
from tests.xmatters.test_client import largest_group, member_ids, people_ids

NO_TOTAL = "has no 'total'"


def _no_total_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and NO_TOTAL in r.getMessage()
    ]


def test_pages_without_total_give_every_row_and_one_warning_per_client(
    xm_org, xm_sim, make_config, caplog: pytest.LogCaptureFixture
):
    xm_sim.faults.add(FaultRule("total_first_page_only", times=None))
    group = largest_group(xm_org)
    with caplog.at_level(logging.INFO), XmattersClient(make_config()) as client:
        assert people_ids(client) == [p["id"] for p in xm_org.people]
        assert member_ids(client, group) == [item["member"]["id"] for item in xm_org.members[group]]
    (warning,) = _no_total_warnings(caplog)  # two listings without totals, one line
    assert warning.startswith(f"the page {xm_sim.base_url}/people?") and "offset=" in warning
    assert "a change while a listing is read (rows offset paging may skip) cannot be detected" in warning


def test_pages_with_total_say_nothing(xm_org, xm_sim, make_config, caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.INFO), XmattersClient(make_config()) as client:
        people_ids(client)
        member_ids(client, largest_group(xm_org))
    assert _no_total_warnings(caplog) == []
