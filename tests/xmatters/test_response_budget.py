"""The bytes of response bodies a client holds at once (`response_budget.py`): the rule, and the
member calls kept within it against pages of huge (legal) names."""

from __future__ import annotations

import threading
from collections import Counter

import pyarrow as pa
import pytest

from pipelines.xmatters import response_budget
from pipelines.xmatters.client import XmattersClient
from pipelines.xmatters.errors import XmattersError
from pipelines.xmatters.member_calls import member_tables
from pipelines.xmatters.member_pages import MembersBatcher
from pipelines.xmatters.response_budget import ResponseBudget
from pipelines.xmatters.source import joined_tables
from pipelines.xmatters.tables import sized_slices
from simulator import FaultRule
from tests.xmatters.helpers import PAGE_SIZE, expected_memberships

NAME_CHARS = 20_000


def _charge_in_thread(body, size: int) -> tuple[threading.Thread, threading.Event, list[BaseException]]:
    done = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            body.charge(size)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            errors.append(exc)
        done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, done, errors


def test_a_body_waits_while_another_is_over_the_limit_and_goes_on_once_it_is_released() -> None:
    budget = ResponseBudget(threading.Event(), limit=100)
    first, second = budget.body(), budget.body()
    second.charge(40)
    first.charge(80)  # 120 > 100: the first body is the overdraft
    first.charge(50)  # the overdraft itself may grow (its body is read to the end)
    thread, done, errors = _charge_in_thread(second, 10)
    assert not done.wait(0.3), "a second body took bytes while the first was over the limit"
    first.release()
    assert done.wait(10) and not errors
    thread.join()
    assert budget.held == 50 and budget.peak == 170
    second.release()
    second.release()  # once only
    assert budget.held == 0


def test_a_thread_hands_on_what_it_holds_before_it_waits() -> None:
    """A member call holding pages gives them to the reader first: here the handed-on page is the
    overdraft, so the wait ends at once (without it, the call would wait for itself)."""
    budget = ResponseBudget(threading.Event(), limit=100)
    held = budget.body()
    held.charge(150)
    handed_on: list[int] = []

    def hand_on() -> None:
        handed_on.append(held.size)
        held.release()  # the reader batched the page

    nxt = budget.body()
    with budget.on_wait(hand_on):
        nxt.charge(10)
    assert handed_on == [150] and budget.held == 10


def test_a_waiting_body_stops_when_the_extract_is_cancelled() -> None:
    cancelled = threading.Event()
    budget = ResponseBudget(cancelled, limit=10)
    budget.body().charge(20)
    thread, done, errors = _charge_in_thread(budget.body(), 1)
    cancelled.set()
    assert done.wait(10)
    thread.join()
    assert [type(e) for e in errors] == [XmattersError] and "cancelled" in str(errors[0])


def test_member_calls_hold_at_most_the_budget_plus_one_body_and_every_row_arrives(
    xm_org, xm_sim, make_config, monkeypatch
):
    """Member pages of 20,000-character names (~2 MB a page): the calls in flight together stay
    within the budget plus one body, every membership arrives once with its whole name, and every
    byte is given back. Before, each of the 8 calls held its bodies and pages unbounded."""
    xm_sim.faults.add(FaultRule("padded_names", path_contains="/members", times=None, size_bytes=NAME_CHARS))
    limit = 3 * 2**20
    monkeypatch.setattr(response_budget, "MAX_HELD_RESPONSE_BYTES", limit)
    pairs: list[tuple[str, str]] = []
    names: set[int] = set()
    tables = 0
    with XmattersClient(make_config(concurrency=8)) as client:
        for table in member_tables(client, [(g["id"], g["targetName"]) for g in xm_org.groups]):
            assert isinstance(table, pa.Table), table
            tables += 1
            pairs += zip(
                table.column("group_id").to_pylist(), table.column("member__id").to_pylist(), strict=True
            )
            names |= {len(name) for name in table.column("member__target_name").to_pylist()}
        peak, held = client.response_budget.peak, client.response_budget.held
    assert not [pair for pair, n in Counter(pairs).items() if n > 1]
    assert set(pairs) == expected_memberships(xm_org)
    assert names == {NAME_CHARS}
    largest_page = PAGE_SIZE * (NAME_CHARS + 200)
    assert held == 0
    assert limit < peak <= limit + largest_page, (peak, limit)
    assert tables > len(pairs) * NAME_CHARS // (16 * 2**20)  # byte-sized batches, not 16,384 rows


def test_a_page_of_huge_items_becomes_several_tables_in_order() -> None:
    items = list(range(10))
    assert list(sized_slices(items, 100, 30)) == [
        ([0, 1, 2], 30),
        ([3, 4, 5], 30),
        ([6, 7, 8], 30),
        ([9], 10),
    ]
    assert list(sized_slices(items, 100, 1000)) == [(items, 100)]
    assert list(sized_slices([7], 10**9, 10)) == [([7], 10**9)]


def test_joined_tables_stop_at_their_byte_limit() -> None:
    table = pa.table({"name": ["x" * 1000] * 10})  # ~10 KB
    joined = list(joined_tables([table] * 10, rows=1_000_000, max_bytes=3 * table.nbytes))
    assert [t.num_rows for t in joined] == [30, 30, 30, 10]


def test_the_members_batcher_hands_out_a_table_per_batch_of_bytes() -> None:
    """A table once the items came from `batch_bytes` of pages, whatever their number; a page over
    it is split (here 400 bytes of two items: a table each)."""
    from pipelines.xmatters.member_pages import decode_page

    body = (
        b'{"count":2,"total":2,"data":['
        b'{"group":{"targetName":"g"},"member":{"id":"a","targetName":"A","recipientType":"PERSON"}},'
        b'{"group":{"targetName":"g"},"member":{"id":"b","targetName":"B","recipientType":"PERSON"}}],'
        b'"links":{}}'
    )
    page = decode_page(body)
    assert page is not None
    batcher = MembersBatcher(batch_rows=1000, batch_bytes=100)
    out = list(batcher.add("g1", page["data"], 400)) + list(batcher.add("g2", page["data"], 50))
    out += list(batcher.flush())
    assert [t.num_rows for t in out] == [1, 1, 2]
    assert sum((t.column("member__id").to_pylist() for t in out), []) == ["a", "b", "a", "b"]
    assert sum((t.column("group_id").to_pylist() for t in out), []) == ["g1", "g1", "g2", "g2"]


@pytest.mark.parametrize("size", [0, 5])
def test_a_release_without_bytes_is_harmless(size: int) -> None:
    budget = ResponseBudget(threading.Event(), limit=1)
    body = budget.body()
    if size:
        body.charge(size)
    body.release()
    assert budget.held == 0


def test_guessed_pages_over_the_cap_are_left_for_the_listing_and_every_person_arrives_once(
    xm_org, xm_sim, make_config, monkeypatch
):
    """`/people` pages of huge names: a guessed page over `AHEAD_MAX_PAGE_BYTES` is dropped (not
    held while it waits for its listing) and the listing fetches it when it gets there. Every
    person arrives once, whole; no byte stays counted."""
    from pipelines.xmatters import client as client_module

    xm_sim.faults.add(FaultRule("padded_names", path_contains="/people", times=None, size_bytes=5_000))
    monkeypatch.setattr(client_module, "AHEAD_MAX_PAGE_BYTES", 100_000)  # a page is ~0.5 MB here
    with XmattersClient(make_config()) as client:
        people = [item for page in client.people_pages() for item in page]
        held = client.response_budget.held
    assert sorted(p.id for p in people) == sorted(p["id"] for p in xm_org.people)
    assert {len(p.targetName) for p in people} == {5_000}
    assert held == 0
    pages = -(-len(xm_org.people) // PAGE_SIZE)
    people_requests = [path for _, path, _ in xm_sim.requests if "/people" in path]
    assert len(people_requests) > pages  # guesses were made, and dropped past the cap
