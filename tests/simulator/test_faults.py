"""Every fault knob has its effect, over real HTTP."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time

import pytest
import requests

from simulator import FaultRule, Faults, Org, XmattersSimulator
from tests.simulator.helpers import fetch_all, get, members_path, session_for


def raw_get(sim: XmattersSimulator, path: str) -> bytes:
    """Send one GET on a fresh socket and return every byte received until the server closes."""
    token = base64.b64encode(f"{sim.username}:{sim.password}".encode()).decode()
    request = f"GET /api/xm/1{path} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {token}\r\n\r\n"
    received = b""
    with socket.create_connection(("127.0.0.1", sim.port), timeout=10) as sock:
        sock.sendall(request.encode())
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    return received


def test_latency_delays_every_request(simulator: XmattersSimulator):
    simulator.faults.latency_s = 0.3
    started = time.monotonic()
    assert get(simulator, "/groups").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_latency_includes_the_simulators_own_work(simulator: XmattersSimulator):
    """The knob is arrival to answer: 1 s of work inside a 1.5 s latency answers at ~1.5 s, not 2.5 s."""
    simulator.faults.latency_s = 1.5
    simulator.faults.add(FaultRule("slow", path_contains="/groups", delay_s=1.0))
    started = time.monotonic()
    assert get(simulator, "/groups").status_code == 200
    assert 1.5 <= time.monotonic() - started < 2.3


def test_latency_holds_a_dropped_connection_too(simulator: XmattersSimulator):
    simulator.faults.latency_s = 0.3
    simulator.faults.add(FaultRule("drop", path_contains="/people"))
    started = time.monotonic()
    assert raw_get(simulator, "/people") == b""
    assert time.monotonic() - started >= 0.3


HTTP_DATE = "Wed, 21 Oct 2099 07:28:00 GMT"


@pytest.mark.parametrize(
    "retry_after, header", [(30, "30"), (2.0, "2"), (HTTP_DATE, HTTP_DATE), (None, None)]
)
def test_429_with_and_without_retry_after(simulator: XmattersSimulator, retry_after, header):
    rule = FaultRule("status", path_contains="/people", status=429, times=2, retry_after=retry_after)
    simulator.faults.add(rule)
    for _ in range(2):
        response = get(simulator, "/people")
        assert response.status_code == 429
        assert response.json()["code"] == 429 and response.json()["reason"] == "Too Many Requests"
        assert response.headers.get("Retry-After") == header
    assert get(simulator, "/people").status_code == 200
    assert [s for _, _, s in simulator.requests] == [429, 429, 200]


def test_rate_limit_answers_429_with_retry_after_beyond_n_a_second(simulator: XmattersSimulator):
    simulator.faults.rate_limit = 5
    statuses = [get(simulator, "/people?limit=1") for _ in range(8)]
    assert [r.status_code for r in statuses] == [200] * 5 + [429] * 3
    assert statuses[-1].headers["Retry-After"] == "1"
    assert statuses[-1].json()["code"] == 429
    time.sleep(1.05)  # the window slides: answered again
    assert get(simulator, "/people?limit=1").status_code == 200


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_bursts(simulator: XmattersSimulator, status: int):
    simulator.faults.add(FaultRule("status", path_contains="/members", status=status, times=3))
    gid = simulator.org.groups[1]["id"]
    assert get(simulator, "/people").status_code == 200  # other paths untouched
    assert [get(simulator, f"/groups/{gid}/members").status_code for _ in range(4)] == [status] * 3 + [200]


@pytest.mark.parametrize("status, reason", [(401, "Unauthorized"), (403, "Forbidden"), (404, "Not Found")])
def test_4xx_with_the_xmatters_error_body(simulator: XmattersSimulator, status: int, reason: str):
    simulator.faults.add(FaultRule("status", status=status, message="custom words", times=None))
    response = get(simulator, "/people")
    assert response.status_code == status
    assert response.json() == {"code": status, "reason": reason, "message": "custom words"}


def test_after_skips_matching_requests_and_times_none_fires_forever(simulator: XmattersSimulator):
    rule = FaultRule("status", path_contains="/groups", status=503, after=2, times=None)
    simulator.faults.add(rule)
    statuses = [get(simulator, "/groups").status_code for _ in range(5)]
    assert statuses == [200, 200, 503, 503, 503]
    assert get(simulator, "/people").status_code == 200
    assert (rule.seen, rule.fired) == (5, 3)


def test_path_contains_can_target_a_query_parameter(simulator: XmattersSimulator, org: Org):
    simulator.faults.add(FaultRule("status", path_contains="offset=100", status=502, times=None))
    response = get(simulator, "/people")
    assert response.status_code == 200
    next_url = simulator.origin + response.json()["links"]["next"]
    auth = (simulator.username, simulator.password)
    assert requests.get(next_url, auth=auth, timeout=10).status_code == 502


def test_page_faults_wait_for_a_page_they_apply_to(simulator: XmattersSimulator, org: Org):
    repeat = FaultRule("repeat_row", path_contains="/people")
    missing_id = FaultRule("item_without_id", path_contains="/members")
    simulator.faults.add(repeat, missing_id)
    assert get(simulator, "/people?limit=50").json()["count"] == 50  # offset 0: not counted
    assert get(simulator, "/groups/unknown/members").status_code == 404  # not a page: not counted
    assert (repeat.seen, missing_id.seen) == (0, 0)
    assert get(simulator, "/people?limit=50&offset=50").json()["count"] == 51
    assert "id" not in get(simulator, f"/groups/{org.groups[1]['id']}/members").json()["data"][0]["member"]


def test_first_matching_rule_fires_and_only_one(simulator: XmattersSimulator):
    simulator.faults.add(FaultRule("status", status=500, times=1), FaultRule("status", status=502, times=1))
    assert [get(simulator, "/groups").status_code for _ in range(3)] == [500, 502, 200]


def test_drop_closes_without_a_response(simulator: XmattersSimulator):
    simulator.faults.add(FaultRule("drop", path_contains="/people", times=2))
    assert raw_get(simulator, "/people") == b""
    with pytest.raises(requests.ConnectionError):
        get(simulator, "/people")
    assert get(simulator, "/people").status_code == 200
    assert [s for _, _, s in simulator.requests] == [0, 0, 200]


def test_reset_mid_body(simulator: XmattersSimulator, org: Org):
    simulator.faults.add(FaultRule("reset", path_contains="/groups", times=2))
    received = raw_get(simulator, "/groups")
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    headers = dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:])
    length = int(headers[b"Content-Length"])
    assert 0 < len(body) < length
    with pytest.raises(requests.RequestException):
        get(simulator, "/groups")
    assert get(simulator, "/groups").json()["data"] == org.groups[:100]


def test_malformed_http_responses_are_sent_as_described_and_recorded_with_status_0(
    simulator: XmattersSimulator,
):
    faults = simulator.faults
    faults.add(FaultRule("bad_status_line", path_contains="/people", status_line="SSH-2.0-OpenSSH_9.6"))
    assert raw_get(simulator, "/people") == b"SSH-2.0-OpenSSH_9.6\r\n\r\n"
    faults.add(FaultRule("many_headers", path_contains="/people"))
    head = raw_get(simulator, "/people")  # read to the end: the cap is ~10 MB
    assert head.startswith(b"HTTP/1.1 200 OK\r\nX-Pad-000: ") and head.count(b"\r\n") > 10_000
    assert b"\r\n\r\n" not in head
    faults.add(FaultRule("long_header_line", path_contains="/people"))
    assert raw_get(simulator, "/people") == b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 2**20 + b"\r\n\r\n"
    faults.add(FaultRule("bad_chunked", path_contains="/people"))
    head, _, body = raw_get(simulator, "/people").partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head
    assert body == b'9\r\n{"count":\r\nzz\r\n'
    assert [s for _, _, s in simulator.requests] == [0, 0, 0, 0]


def test_slow_response_passes_a_client_timeout(simulator: XmattersSimulator):
    simulator.faults.add(FaultRule("slow", path_contains="/people", delay_s=1.5))
    with pytest.raises(requests.Timeout):
        get(simulator, "/people", timeout=0.3)
    assert get(simulator, "/people").status_code == 200


def test_malformed_json(simulator: XmattersSimulator):
    simulator.faults.add(FaultRule("malformed_json"))
    response = get(simulator, "/people")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_truncated_json(simulator: XmattersSimulator):
    full = get(simulator, "/people").content
    simulator.faults.add(FaultRule("truncated_json"))
    response = get(simulator, "/people")
    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) == len(response.content) == len(full) // 2
    assert full.startswith(response.content)
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_html_error_page_with_status_200(simulator: XmattersSimulator):
    simulator.faults.add(FaultRule("html_200"))
    response = get(simulator, "/groups")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/html")
    assert response.text.startswith("<!DOCTYPE html>")


def test_data_not_a_list(simulator: XmattersSimulator):
    simulator.faults.add(FaultRule("data_not_list"))
    page = get(simulator, "/people").json()
    assert isinstance(page["data"], dict) and page["total"] == len(simulator.org.people)


def test_item_without_id(simulator: XmattersSimulator, org: Org):
    simulator.faults.add(FaultRule("item_without_id", times=2))
    people = get(simulator, "/people").json()["data"]
    assert "id" not in people[0] and people[0]["targetName"] == org.people[0]["targetName"]
    assert all("id" in p for p in people[1:])
    item = get(simulator, f"/groups/{org.groups[1]['id']}/members").json()["data"][0]
    assert "id" not in item["member"] and item["group"]["id"] == org.groups[1]["id"]


def test_total_only_on_the_first_page(simulator: XmattersSimulator, org: Org):
    simulator.faults.add(FaultRule("total_first_page_only", times=None))
    rows, pages = fetch_all(session_for(simulator), simulator, "/people?limit=50")
    assert rows == org.people and len(pages) == 3
    assert "total" in pages[0] and all("total" not in p for p in pages[1:])


def test_a_row_repeated_across_two_pages(simulator: XmattersSimulator, org: Org):
    simulator.faults.add(FaultRule("repeat_row", path_contains="/people"))
    rows, pages = fetch_all(session_for(simulator), simulator, "/people?limit=50")
    assert len(rows) == len(org.people) + 1
    assert pages[1]["data"][0] == pages[0]["data"][-1] and pages[1]["count"] == 51
    assert list({r["id"]: r for r in rows}.values()) == org.people  # nothing lost once de-duplicated


def test_next_link_looping_to_the_same_page(simulator: XmattersSimulator):
    simulator.faults.add(FaultRule("next_loop", times=None))
    page = get(simulator, "/people?limit=50&offset=50").json()
    assert page["links"]["next"] == page["links"]["self"] == "/api/xm/1/people?limit=50&offset=50"


def test_next_link_to_another_origin(simulator: XmattersSimulator):
    simulator.faults.add(
        FaultRule("next_foreign"), FaultRule("next_foreign", foreign_origin="https://127.0.0.1:1")
    )
    first, second = (get(simulator, "/people").json()["links"]["next"] for _ in range(2))
    assert first == "http://xmatters.invalid/api/xm/1/people?offset=100"
    assert second == "https://127.0.0.1:1/api/xm/1/people?offset=100"


def test_total_disagreeing_with_the_rows(simulator: XmattersSimulator, org: Org):
    simulator.faults.add(FaultRule("total_mismatch", total_delta=-20, times=None))
    rows, pages = fetch_all(session_for(simulator), simulator, "/groups?limit=5")
    assert rows == org.groups and all(p["total"] == len(org.groups) - 20 for p in pages)


def test_empty_page_with_a_next_link(simulator: XmattersSimulator, org: Org):
    simulator.faults.add(FaultRule("empty_page_with_next", path_contains="offset=50"))
    page = get(simulator, "/people?limit=50&offset=50").json()
    assert page["count"] == 0 and page["data"] == []
    assert page["links"]["next"] == "/api/xm/1/people?limit=50&offset=100"
    assert get(simulator, "/people?limit=50&offset=50").json()["count"] == 50  # fired once


def test_deleted_group_members_404_but_the_group_stays_listed(simulator: XmattersSimulator, org: Org):
    by_id, by_name = org.groups[2], org.groups[3]
    simulator.faults.deleted_groups.add(by_id["id"])
    simulator.faults.delete_groups([by_name["targetName"]])
    for group in (by_id, by_name):
        for key in (group["id"], group["targetName"]):
            response = get(simulator, members_path(key))
            assert response.status_code == 404
            assert response.json()["reason"] == "Not Found" and key in response.json()["message"]
    listed, _ = fetch_all(session_for(simulator), simulator, "/groups")
    assert listed == org.groups
    assert get(simulator, members_path(org.groups[4]["id"])).status_code == 200


def test_faults_replaced_and_cleared_at_runtime(simulator: XmattersSimulator):
    simulator.faults = Faults(rules=[FaultRule("status", status=503, times=None)])
    assert get(simulator, "/people").status_code == 503
    simulator.faults.clear()
    assert get(simulator, "/people").status_code == 200


def test_faults_given_at_construction(make_simulator):
    sim = make_simulator(faults=Faults(rules=[FaultRule("status", status=500)]))
    assert [get(sim, "/groups").status_code for _ in range(2)] == [500, 200]


def test_auth_is_checked_before_faults(simulator: XmattersSimulator):
    rule = FaultRule("status", status=503)
    simulator.faults.add(rule)
    assert requests.get(simulator.base_url + "/people", auth=("x", "y"), timeout=10).status_code == 401
    assert rule.seen == 0
    assert get(simulator, "/people").status_code == 503


def test_rules_fire_exactly_times_under_concurrency(simulator: XmattersSimulator):
    simulator.faults.add(FaultRule("status", status=503, times=5))
    statuses: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        session = session_for(simulator)
        for _ in range(10):
            status = session.get(simulator.base_url + "/groups", timeout=10).status_code
            with lock:
                statuses.append(status)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses).count(503) == 5 and len(statuses) == 60
    assert simulator.request_count == 60


@pytest.mark.parametrize(
    "kwargs", [{"kind": "explode"}, {"kind": "status", "status": 42}, {"kind": "drop", "after": -1}]
)
def test_invalid_rules_are_refused(kwargs):
    with pytest.raises(ValueError):
        FaultRule(**kwargs)
