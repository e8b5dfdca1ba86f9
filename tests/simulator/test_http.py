"""The simulator over real HTTP: envelope, paging, lookups, auth, errors, counters, determinism."""

from __future__ import annotations

import base64
import http.client
import socket

import pytest
import requests

from simulator import Org, XmattersSimulator, build_org
from tests.simulator.helpers import fetch_all, get, members_path, session_for


def test_envelope_and_relative_links_keep_the_query_parameters(simulator: XmattersSimulator, org: Org):
    response = get(simulator, "/people?limit=50&status=ACTIVE&search=a%20b&offset=50")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    page = response.json()
    assert list(page) == ["count", "total", "data", "links"]
    assert page["count"] == 50 and page["total"] == len(org.people)
    assert page["data"] == org.people[50:100]
    assert page["links"] == {
        "self": "/api/xm/1/people?limit=50&status=ACTIVE&search=a%20b&offset=50",
        "previous": "/api/xm/1/people?limit=50&status=ACTIVE&search=a%20b&offset=0",
        "next": "/api/xm/1/people?limit=50&status=ACTIVE&search=a%20b&offset=100",
    }
    last = get(simulator, "/people?limit=50&offset=100").json()
    assert last["count"] == len(org.people) - 100 and "next" not in last["links"]


def test_default_limit_is_100_and_the_first_page_has_no_previous(simulator: XmattersSimulator, org: Org):
    page = get(simulator, "/people").json()
    assert page["count"] == 100 and page["data"] == org.people[:100]
    assert page["links"] == {"self": "/api/xm/1/people?offset=0", "next": "/api/xm/1/people?offset=100"}


def test_limit_is_clamped_to_1000(simulator: XmattersSimulator, org: Org):
    large = org.groups[0]
    page = get(simulator, f"/groups/{large['id']}/members?limit=5000").json()
    assert page["count"] == 1000 and page["total"] == 2500
    assert page["links"]["next"] == f"/api/xm/1/groups/{large['id']}/members?limit=5000&offset=1000"
    assert page["data"] == org.members[large["id"]][:1000]


def test_offset_past_the_end_is_an_empty_last_page(simulator: XmattersSimulator, org: Org):
    page = get(simulator, "/groups?offset=500").json()
    assert page["count"] == 0 and page["data"] == [] and page["total"] == len(org.groups)
    assert "next" not in page["links"]


@pytest.mark.parametrize("query", ["offset=abc", "limit=x", "offset=-1", "limit=0"])
def test_bad_paging_parameters_are_a_400(simulator: XmattersSimulator, query: str):
    response = get(simulator, f"/people?{query}")
    assert response.status_code == 400
    assert response.json()["code"] == 400 and response.json()["reason"] == "Bad Request"


@pytest.mark.parametrize("limit", [None, 1000])
def test_following_next_returns_exactly_the_org(simulator: XmattersSimulator, org: Org, limit: int | None):
    session = session_for(simulator)
    query = "" if limit is None else f"?limit={limit}"
    people, _ = fetch_all(session, simulator, "/people" + query)
    assert people == org.people
    groups, _ = fetch_all(session, simulator, "/groups" + query)
    assert groups == org.groups
    for group in org.groups:
        members, pages = fetch_all(session, simulator, f"/groups/{group['id']}/members" + query)
        assert members == org.members[group["id"]]
        if group is org.groups[0]:
            assert len(pages) == (3 if limit == 1000 else 25)
            assert all(p["total"] == 2500 for p in pages)


def test_members_by_url_encoded_target_name(simulator: XmattersSimulator, org: Org):
    session = session_for(simulator)
    tricky = [g for g in org.groups if not g["targetName"].replace(" ", "").isalnum()]
    assert len(tricky) >= 8  # spaces, slashes, %, ?, #, quotes, backslash, +, Unicode
    for group in tricky:
        members, _ = fetch_all(session, simulator, members_path(group["targetName"]) + "?limit=1000")
        assert members == org.members[group["id"]], group["targetName"]


def test_unknown_group_and_unknown_paths_are_404_with_the_error_body(simulator: XmattersSimulator):
    unknown = "6f1c0f9e-0000-4000-8000-000000000000"
    response = get(simulator, f"/groups/{unknown}/members")
    assert response.status_code == 404
    assert response.json() == {
        "code": 404,
        "reason": "Not Found",
        "message": f"Could not find a group with id {unknown}",
    }
    # An unencoded slash in a name is a different path, as on the real API.
    assert get(simulator, "/groups/Ops / Database On-Call/members").status_code == 404
    for path in ("/persons", "/people/extra", "/groups//members"):
        response = get(simulator, path)
        assert response.status_code == 404 and response.json()["code"] == 404
    auth = (simulator.username, simulator.password)
    assert requests.get(simulator.origin + "/api/xm/2/people", auth=auth, timeout=10).status_code == 404


def test_user_name_and_password_and_api_key_are_accepted(simulator: XmattersSimulator, org: Org):
    assert simulator.api_key_id.startswith("x-api-key-")
    for api_key in (False, True):
        response = session_for(simulator, api_key=api_key).get(simulator.base_url + "/groups", timeout=10)
        assert response.status_code == 200 and response.json()["total"] == len(org.groups)


@pytest.mark.parametrize(
    "auth",
    [None, ("sim-user", "wrong"), ("nobody", "sim-password"), ("sim-user", "sim-api-secret")],
    ids=["missing", "wrong-password", "unknown-user", "secret-of-the-key"],
)
def test_bad_or_missing_credentials_are_a_401_with_the_error_body(simulator: XmattersSimulator, auth):
    response = requests.get(simulator.base_url + "/people", auth=auth, timeout=10)
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == 401 and body["reason"] == "Unauthorized" and body["message"]
    assert "sim-password" not in response.text


def test_non_basic_or_garbled_authorization_is_a_401(simulator: XmattersSimulator):
    for header in ("Bearer abc", "Basic !!!notbase64", "Basic " + base64.b64encode(b"no-colon").decode()):
        response = requests.get(simulator.base_url + "/people", headers={"Authorization": header}, timeout=10)
        assert response.status_code == 401


def test_custom_credentials(make_simulator):
    sim = make_simulator(username="alice", password="pw", api_key_id="x-api-key-abc", api_key_secret="s3")
    assert get(sim, "/people", auth=("alice", "pw")).status_code == 200
    assert get(sim, "/people", auth=("x-api-key-abc", "s3")).status_code == 200
    assert get(sim, "/people", auth=("sim-user", "sim-password")).status_code == 401


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
def test_anything_but_get_is_refused(simulator: XmattersSimulator, method: str):
    response = requests.request(
        method,
        simulator.base_url + "/people",
        json={"targetName": "x"},
        auth=(simulator.username, simulator.password),
        timeout=10,
    )
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"
    if method != "HEAD":
        assert response.json()["code"] == 405
    assert simulator.requests == [(method, "/api/xm/1/people", 405)]


def test_devices_endpoint(simulator: XmattersSimulator, org: Org):
    session = session_for(simulator)
    emails, _ = fetch_all(session, simulator, "/devices?deviceType=EMAIL&limit=1000")
    assert emails == org.devices and all(d["deviceType"] == "EMAIL" for d in emails)
    every, _ = fetch_all(session, simulator, "/devices?limit=1000")
    assert every == org.devices + org.phone_devices
    voice, _ = fetch_all(session, simulator, "/devices?deviceType=VOICE")
    assert voice and all(d["deviceType"] == "VOICE" for d in voice)


def test_request_counter_and_log(simulator: XmattersSimulator, org: Org):
    assert simulator.request_count == 0
    get(simulator, "/people?limit=10")
    get(simulator, "/groups/nope/members")
    requests.get(simulator.base_url + "/people", timeout=10)
    assert simulator.request_count == 3
    assert simulator.requests == [
        ("GET", "/api/xm/1/people?limit=10", 200),
        ("GET", "/api/xm/1/groups/nope/members", 404),
        ("GET", "/api/xm/1/people", 401),
    ]
    simulator.reset_counters()
    assert simulator.request_count == 0 and simulator.requests == []


def test_keep_alive_serves_many_requests_on_one_connection(simulator: XmattersSimulator, org: Org):
    connection = http.client.HTTPConnection("127.0.0.1", simulator.port, timeout=10)
    token = base64.b64encode(f"{simulator.username}:{simulator.password}".encode()).decode()
    for offset in range(0, len(org.people), 10):
        connection.request(
            "GET", f"/api/xm/1/people?limit=10&offset={offset}", headers={"Authorization": f"Basic {token}"}
        )
        response = connection.getresponse()
        assert response.status == 200 and response.getheader("Connection") is None
        assert len(response.read()) == int(response.getheader("Content-Length"))
    connection.close()
    assert simulator.request_count == len(range(0, len(org.people), 10))


def test_same_seed_serves_the_same_bytes(org_spec, make_simulator):
    first = make_simulator(spec=None)
    second = XmattersSimulator(build_org(org_spec)).start()
    try:
        paths = [
            "/people?limit=1000",
            "/groups",
            "/devices?deviceType=EMAIL",
            f"/groups/{first.org.groups[0]['id']}/members?offset=1000&limit=1000",
            members_path(first.org.groups[3]["targetName"]),
        ]
        for path in paths:
            assert get(first, path).content == get(second, path).content, path
        assert first.api_key_id == second.api_key_id
    finally:
        second.stop()


def test_stop_closes_the_port_and_open_connections(org: Org):
    sim = XmattersSimulator(org).start()
    session = session_for(sim)
    assert session.get(sim.base_url + "/groups", timeout=10).status_code == 200  # a kept-alive connection
    port = sim.port
    sim.stop()
    sim.stop()  # idempotent
    with pytest.raises(requests.ConnectionError):
        session.get(f"http://127.0.0.1:{port}/api/xm/1/groups", timeout=5)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=5)


def test_base_url_needs_a_started_server(org: Org):
    with pytest.raises(RuntimeError):
        _ = XmattersSimulator(org).base_url
