"""What a member listing may hold in memory: a long group's rows go on in parts, and the listings in
progress together stop at the client's `ListingBudget`, whatever pages a server sends."""

from __future__ import annotations

from collections import Counter

import pytest

from pipelines.xmatters import listing_budget, member_calls
from pipelines.xmatters.client import XmattersClient
from pipelines.xmatters.errors import ProtocolError
from pipelines.xmatters.loader import load_raw
from pipelines.xmatters.member_calls import MemberProcess, member_tables
from pipelines.xmatters.report import ExtractReport, SkippedGroup
from simulator import FaultRule
from tests.xmatters.helpers import PAGE_SIZE, expected_memberships, rows


def _groups(org) -> list[tuple[str, str | None]]:
    return [(group["id"], group["targetName"]) for group in org.groups]


def _largest_group(org) -> tuple[str, int]:
    counts = org.member_counts()
    group_id = max(counts, key=counts.__getitem__)
    return group_id, counts[group_id]


def _member_ids(items) -> tuple[set[tuple[str, str]], list[SkippedGroup]]:
    pairs: list[tuple[str, str]] = []
    skipped: list[SkippedGroup] = []
    for item in items:
        if isinstance(item, SkippedGroup):
            skipped.append(item)
        else:
            pairs.extend(
                zip(item.column("group_id").to_pylist(), item.column("member__id").to_pylist(), strict=True)
            )
    assert not [pair for pair, n in Counter(pairs).items() if n > 1], "a member row twice"
    return set(pairs), skipped


def test_a_group_whose_member_pages_never_end_stops_at_the_listing_budget(
    xm_org, xm_sim, make_config, monkeypatch
):
    """A server paging one group's members forever, each page new rows and no `total`: the listing
    stops once the listings in progress would hold more than the budget, with one line naming the
    group's URL. Before, it ran on to --max-pages, holding every item (~5 GB at the defaults)."""
    monkeypatch.setattr(listing_budget, "MAX_HELD_ITEMS", 5 * PAGE_SIZE)
    group_id, _ = _largest_group(xm_org)
    xm_sim.faults.add(
        FaultRule(
            "endless_next", path_contains=f"{group_id}/members", times=None, omit_total=True, fresh_rows=True
        )
    )
    with XmattersClient(make_config(max_pages=1000)) as client:
        with pytest.raises(ProtocolError) as caught:
            list(member_tables(client, _groups(xm_org)))
        assert client.listing_budget.held == 0  # every listing gave its items back
    message = str(caught.value)
    assert message.startswith(
        f"xmatters: the listings in progress would hold over {5 * PAGE_SIZE:,} items at once"
    ), message
    assert f"{xm_sim.base_url}/groups/{group_id}/members?" in message
    assert "a server whose pages never end?" in message
    # stopped within the budget's pages of the endless group, not at --max-pages
    endless_calls = [path for _, path, _ in xm_sim.requests if f"{group_id}/members" in path]
    assert len(endless_calls) <= 6


def test_the_budget_is_shared_by_the_listings_in_progress_and_given_back_at_their_end(
    xm_org, xm_sim, make_config, monkeypatch
):
    """Every group of the small org fits the budget alone; the listings together never hold more."""
    monkeypatch.setattr(listing_budget, "MAX_HELD_ITEMS", 4 * PAGE_SIZE)
    with XmattersClient(make_config(concurrency=4)) as client:
        peak = 0
        real_charge = client.listing_budget.charge

        def charge(items: int, url: str, page: int) -> None:
            nonlocal peak
            real_charge(items, url, page)
            peak = max(peak, client.listing_budget.held)

        monkeypatch.setattr(client.listing_budget, "charge", charge)
        pairs, skipped = _member_ids(member_tables(client, _groups(xm_org)))
        assert client.listing_budget.held == 0
    assert pairs == expected_memberships(xm_org) and skipped == []
    assert 0 < peak <= 4 * PAGE_SIZE


def test_a_long_group_goes_on_in_parts_with_every_row_once(xm_org, xm_sim, make_config, monkeypatch):
    """A group longer than `HELD_MEMBER_ITEMS` is handed on page by page while its listing goes on,
    instead of held whole; every membership still arrives once."""
    monkeypatch.setattr(member_calls, "HELD_MEMBER_ITEMS", PAGE_SIZE)
    group_id, count = _largest_group(xm_org)
    assert count > 3 * PAGE_SIZE
    parts: list[tuple[str, int]] = []
    real_put = member_calls._Parts.put

    def put(self, part) -> None:
        parts.append((part.group_id, sum(len(page) for page in part.pages)))
        real_put(self, part)

    monkeypatch.setattr(member_calls._Parts, "put", put)
    with XmattersClient(make_config()) as client:
        pairs, skipped = _member_ids(member_tables(client, _groups(xm_org)))
    assert pairs == expected_memberships(xm_org) and skipped == []
    assert [group for group, _ in parts].count(group_id) == count // PAGE_SIZE
    assert all(size == PAGE_SIZE for _, size in parts)


def _delete_after_pages(xm_sim, group_id: str, after: int = 3) -> None:
    """The group's members pages after the first `after`: 404, as a deleted group."""
    xm_sim.faults.add(
        FaultRule(
            "status",
            status=404,
            path_contains=f"{group_id}/members",
            after=after,
            times=None,
            message=f"Could not find a group with id {group_id}",
        )
    )


def test_a_long_group_deleted_while_its_pages_are_read_loads_no_member_rows(
    xm_org, xm_sim, make_config, monkeypatch, warehouse, pipelines_dir
):
    """Its first pages went on before the 404: the loader removes them, so a group deleted during the
    sync has no memberships whatever its length (as one deleted before its call), and the report
    counts the rows the raw table holds."""
    monkeypatch.setattr(member_calls, "HELD_MEMBER_ITEMS", PAGE_SIZE)
    group_id, _ = _largest_group(xm_org)
    _delete_after_pages(xm_sim, group_id)
    report = ExtractReport()
    load_raw(make_config(), warehouse, pipelines_dir=pipelines_dir, report=report)
    [skipped] = report.skipped_groups
    assert (skipped.group_id, skipped.rows_sent) == (group_id, 3 * PAGE_SIZE)
    loaded = set(rows(warehouse, "select group_id, member__id from xmatters_raw.group_members"))
    assert loaded == expected_memberships(xm_org, skip={group_id})
    [(count,)] = rows(warehouse, "select count(*) from xmatters_raw.group_members")
    assert (
        report.rows["group_members"] == count == xm_org.membership_rows() - xm_org.member_counts()[group_id]
    )


def test_the_member_process_reports_the_rows_it_handed_on_before_the_group_went() -> None:
    """The CLI's route: the child (`HELD_MEMBER_ITEMS` at its default) hands a long group's first
    items on, reports them with the group's skip (`SkippedGroup.rows_sent`), and they are in its
    tables: the raw step removes them after the load."""
    from pipelines.xmatters.config import XmattersConfig
    from simulator import Faults, OrgSpec, XmattersSimulator, build_org

    held = member_calls.HELD_MEMBER_ITEMS
    org = build_org(OrgSpec(seed=3, people=50, groups=3, members_per_group=4, large_group_size=held + 500))
    group_id, count = _largest_group(org)
    assert count == held + 500
    with XmattersSimulator(org, username="u", password="p", faults=Faults()) as sim:
        # pages of 1000: the group's first `held` items went on as a part, its last page is a 404
        _delete_after_pages(sim, group_id, after=held // 1000)
        config = XmattersConfig(base_url=sim.base_url, username="u", password="p", page_size=1000)
        client = XmattersClient(config, ExtractReport())
        with MemberProcess(config) as child:
            pairs, skipped = _member_ids(child.member_tables(client, _groups(org)))
    [only] = skipped
    assert (only.group_id, only.rows_sent) == (group_id, held)
    others = expected_memberships(org, skip={group_id})
    assert pairs - others == {pair for pair in pairs if pair[0] == group_id}
    assert len(pairs - others) == held and others <= pairs


def test_a_listing_holds_a_digest_not_the_text_of_each_long_id() -> None:
    """A listing keeps every row's key until it ends; ids of 20,000 characters on each of 5,000 rows
    (100 MB of ids) are held as 16-byte digests, while repeats are still dropped and distinct ids
    all kept. Before, the listing held every id's text."""
    import tracemalloc

    from pipelines.xmatters.paging import iter_pages

    pages, per_page = 50, 100

    def fetch(url: str) -> dict:
        number = int(url.rsplit("=", 1)[1])
        rows = [{"id": f"{number * per_page + i:020000d}"} for i in range(per_page)]
        rows.append({"id": f"{number * per_page:020000d}"})  # a repeat: dropped
        more = {"next": f"https://x.example/people?page={number + 1}"} if number + 1 < pages else {}
        return {"data": rows, "links": more}

    def first_id(page: list[dict]) -> str:
        return page[0]["id"][-6:]

    tracemalloc.start()
    try:
        listing = iter_pages(fetch, "https://x.example/people?page=0", key=lambda item: item["id"])
        seen_ids: list[str] = []
        counts: list[int] = []
        held = 0
        for page in listing:
            seen_ids.append(first_id(page))
            counts.append(len(page))
            del page
            held = max(held, tracemalloc.get_traced_memory()[0])  # the listing still open
    finally:
        tracemalloc.stop()
    assert counts == [per_page] * pages  # each page's repeat dropped, every distinct id kept
    assert seen_ids == [f"{n * per_page:06d}" for n in range(pages)]
    assert held < 10 << 20, f"{held:,} bytes held while the listing was read (its ids are 100 MB)"
