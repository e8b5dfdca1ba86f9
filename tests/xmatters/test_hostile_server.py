"""A hostile or broken server against the client: every response bounded in size and time, every
listing bounded in pages, every message free of secrets and terminal control characters.

The size and time bounds are checked on both transports (`http.client` without a proxy, urllib3
through a forwarding proxy on loopback). The process-level bounds (peak RSS, wall time of a whole
sync) are measured in `tests/reliability/test_hostile_server.py`.
"""

from __future__ import annotations

import base64
import pickle
import re
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from pipelines.xmatters.client import XmattersClient, path_segment
from pipelines.xmatters.config import XmattersConfig
from pipelines.xmatters.errors import AuthError, ProtocolError, UnavailableError, XmattersError
from pipelines.xmatters.paging import item_id, iter_pages, pages_for_total
from pipelines.xmatters.scrub import REDACTED, scrub
from simulator import FaultRule
from simulator.app import gzip_bomb
from tests.xmatters.helpers import PASSWORD, USERNAME
from tests.xmatters.test_client import people_ids
from tests.xmatters.test_transports import proxy  # noqa: F401 - a fixture

TOKEN = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
SECRET_FORMS = (PASSWORD, TOKEN, quote(TOKEN, safe=""), quote(PASSWORD, safe=""))


@pytest.fixture(params=["direct", "proxy"])
def transport(request: pytest.FixtureRequest) -> str:
    if request.param == "proxy":
        request.getfixturevalue("proxy")
    return request.param


def _fails(client: XmattersClient, error: type[XmattersError]) -> str:
    with pytest.raises(error) as caught:
        people_ids(client)
    return str(caught.value)


# ---- size -----------------------------------------------------------------------------------------


def test_a_gzip_bomb_is_refused_once_its_decoded_bytes_pass_the_limit(xm_sim, make_config, transport):
    # built before the request (the simulator keeps it): compressing 64 MiB under a loaded CI once
    # outlasted the client's 5 s response timeout, and the request was retried
    gzip_bomb(256 * 2**20)
    xm_sim.faults.add(FaultRule("gzip_bomb", path_contains="/people", size_bytes=256 * 2**20, times=None))
    with XmattersClient(make_config(max_response_mib=8)) as client:
        message = _fails(client, ProtocolError)
    assert message.startswith(f"xmatters: the response from {xm_sim.base_url}/people?")
    assert "decodes to more than the 8 MiB limit" in message
    assert "--max-response-mib" in message
    assert [path for _m, path, _s in xm_sim.requests] == [xm_sim.requests[0][1]]  # not retried


@pytest.mark.parametrize("declare_length", [True, False])
def test_a_body_over_the_limit_is_refused(xm_sim, make_config, transport, declare_length):
    if transport == "proxy" and not declare_length:
        pytest.skip("the test proxy buffers a body without a length")
    xm_sim.faults.add(
        FaultRule("huge_body", path_contains="/people", size_bytes=64 * 2**20, declare_length=declare_length)
    )
    with XmattersClient(make_config(max_response_mib=4)) as client:
        message = _fails(client, ProtocolError)
    if declare_length:
        assert f"declares {64 * 2**20:,} bytes (Content-Length), over the 4 MiB limit" in message
    else:
        assert "decodes to more than the 4 MiB limit" in message
    assert xm_sim.request_count == 1


def test_a_body_under_the_limit_passes(xm_org, xm_sim, make_config):
    with XmattersClient(make_config(max_response_mib=0.5)) as client:  # pages of 100 people: ~60 KB
        assert people_ids(client) == [p["id"] for p in xm_org.people]


# ---- time ------------------------------------------------------------------------------------------


def test_a_trickled_body_fails_within_the_timeout_not_per_read(xm_sim, make_config, transport):
    xm_sim.faults.add(FaultRule("trickle", path_contains="/people", delay_s=0.1, times=None))
    started = time.monotonic()
    with XmattersClient(make_config(timeout_s=1.0, max_attempts=2)) as client:
        message = _fails(client, UnavailableError)
    elapsed = time.monotonic() - started
    assert "no complete response from" in message and "within 1 s (gave up after 2 attempts)" in message
    assert elapsed < 4.0  # two attempts of 1 s; a per-read timeout would wait for every byte (minutes)


@pytest.fixture
def header_trickler() -> Iterator[int]:
    """A server (or proxy: it answers any request line) that sends its status line and then header
    bytes, one every 0.1 s for 10 s; yields its port."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                for _ in range(100):  # 10 s: a client bounded per read only fails the test, not hangs
                    if stop.wait(0.1):
                        return
                    conn.sendall(b"a")
            except OSError:
                return

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield listener.getsockname()[1]
    stop.set()
    listener.close()


@pytest.mark.parametrize("via_proxy", [False, True])
def test_trickled_headers_fail_within_the_timeout(header_trickler, monkeypatch, via_proxy):
    base_url = f"http://127.0.0.1:{header_trickler}/api/xm/1"
    for name in (
        "NO_PROXY",
        "no_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "HTTP_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)
    if via_proxy:  # urllib3: the "proxy" trickles its answer
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{header_trickler}")
        base_url = "http://127.0.0.1:9/api/xm/1"
    config = XmattersConfig(
        base_url=base_url, username=USERNAME, password=PASSWORD, timeout_s=1.0, max_attempts=1
    )
    started = time.monotonic()
    with XmattersClient(config) as client:
        message = _fails(client, UnavailableError)
    assert "no complete response from" in message and "within 1 s" in message
    assert time.monotonic() - started < 3


# ---- paging ---------------------------------------------------------------------------------------


def test_endless_next_links_stop_at_the_bound_of_the_first_pages_total(xm_org, xm_sim, make_config):
    xm_sim.faults.add(FaultRule("endless_next", path_contains="/people", times=None))
    with XmattersClient(make_config()) as client:
        message = _fails(client, ProtocolError)
    bound = pages_for_total(len(xm_org.people), 100)
    assert f"the listing {xm_sim.base_url}/people?limit=100 links past {bound} pages" in message
    assert f"total of {len(xm_org.people)} items" in message and "--max-pages" in message
    assert xm_sim.request_count == bound


def test_endless_next_links_without_a_total_stop_at_max_pages(xm_sim, make_config):
    xm_sim.faults.add(FaultRule("endless_next", path_contains="/people", times=None, omit_total=True))
    with XmattersClient(make_config(max_pages=12)) as client:
        message = _fails(client, ProtocolError)
    assert "links past 12 pages (the first page has no total and --max-pages is 12)" in message
    assert xm_sim.request_count == 12


def test_a_total_beyond_max_pages_is_blamed_on_max_pages_not_the_total(xm_org, xm_sim, make_config):
    """`--page-size 100 --max-pages 1` on 300 people said `links past 1 pages (its first page's
    total of 300 items allows 1 pages)`: the total needs 3; the flag allowed 1."""
    needed = -(-len(xm_org.people) // 100)
    assert needed > 1
    with XmattersClient(make_config(max_pages=1)) as client:
        message = _fails(client, ProtocolError)
    assert message.endswith(
        f"the listing {xm_sim.base_url}/people?limit=100 links past 1 pages (--max-pages is 1; its "
        f"first page's total of {len(xm_org.people)} items needs {needed}); stopped (check --max-pages)"
    )


def test_a_total_within_max_pages_reads_every_page(xm_org, xm_sim, make_config):
    with XmattersClient(make_config(max_pages=pages_for_total(len(xm_org.people), 100))) as client:
        assert len(people_ids(client)) == len(xm_org.people)


def test_a_next_link_of_a_megabyte_is_refused_not_requested():
    long_link = "/api/xm/1/people?offset=100&pad=" + "x" * 2**20
    requested: list[str] = []

    def fetch(url: str) -> dict:
        requested.append(url)
        return {"data": [{"id": "p1"}], "links": {"next": long_link}}

    first = "http://127.0.0.1:9/api/xm/1/people?limit=100"
    with pytest.raises(ProtocolError) as caught:
        list(iter_pages(fetch, first, key=item_id))
    message = str(caught.value)
    assert f"has a 'links.next' of {len(long_link):,} characters (at most 8,192 are followed)" in message
    assert len(message) < 400
    assert requested == [first]


def test_a_next_link_with_spaces_non_ascii_or_controls_is_requested_percent_encoded(
    xm_org, xm_sim, make_config, transport
):
    """A next link is the server's text: a space or a control character made `http.client` refuse
    the request line (retried as a `connection error`), a non-ASCII letter raised a bare
    `UnicodeEncodeError` that ended the sync as dlt's pipe error naming no URL. Encoded as a
    browser does, the request is well formed and the listing reads every row."""
    xm_sim.faults.add(FaultRule("next_unencoded", path_contains="/people", times=None))
    with XmattersClient(make_config(max_attempts=1)) as client:
        assert people_ids(client) == [p["id"] for p in xm_org.people]
    followed = [path for _m, path, _s in xm_sim.requests if "note=Zo%C3%AB%20ops%01" in path]
    assert followed, xm_sim.requests  # the chain of next links, as encoded (guesses use `+`)


# ---- bodies -----------------------------------------------------------------------------------------


def test_json_nested_100000_levels_is_malformed_json_naming_the_url(xm_sim, make_config):
    xm_sim.faults.add(FaultRule("deep_json", path_contains="/people", times=None))
    with XmattersClient(make_config(max_attempts=2)) as client:
        message = _fails(client, ProtocolError)
    assert f"malformed JSON from {xm_sim.base_url}/people?limit=100 (HTTP 200, 200000 bytes" in message
    assert "nested too deep to read) (gave up after 2 attempts)" in message


def test_deep_json_in_members_and_error_bodies(xm_org, xm_sim, make_config):
    xm_sim.faults.add(FaultRule("deep_json", path_contains="/members", times=None))
    group_id = xm_org.groups[0]["id"]
    with (
        XmattersClient(make_config(max_attempts=1)) as client,
        pytest.raises(ProtocolError, match="too deep"),
    ):
        client.group_members(group_id)


@pytest.mark.parametrize("listing", ["/people", "/members"])
def test_a_page_that_is_not_utf8_is_malformed_json_naming_the_url(xm_org, xm_sim, make_config, listing):
    """The typed page decoder (msgspec) raises UnicodeDecodeError, not its DecodeError, on bytes
    that are not UTF-8: it escaped the client and dlt ended the sync with `In processing pipe
    people: extraction of resource people in future <Future ...> caused an exception: 'utf-8'
    codec can't decode byte 0xff ...`, naming no URL."""
    xm_sim.faults.add(FaultRule("invalid_utf8", path_contains=listing, times=None))
    with XmattersClient(make_config(max_attempts=2)) as client, pytest.raises(ProtocolError) as caught:
        if listing == "/people":
            people_ids(client)
        else:
            client.group_members(xm_org.groups[0]["id"])
    message = str(caught.value)
    assert re.fullmatch(
        rf"xmatters: malformed JSON from {re.escape(xm_sim.base_url)}\S*{listing}\?limit=100 "
        r"\(HTTP 200, \d+ bytes, not UTF-8 at byte \d+\) \(gave up after 2 attempts\)",
        message,
    ), message


def _list(client: XmattersClient, listing: str, group_id: str) -> None:
    """Reads one listing to its end, as the sync does (items typed or dicts)."""
    if listing == "/people":
        people_ids(client)
    elif listing == "/groups":
        list(client.group_pages())
    else:
        client.group_members(group_id)


def _first_url(xm_sim, listing: str, group_id: str) -> str:
    path = f"/groups/{path_segment(group_id)}/members" if listing == "/members" else listing
    return f"{xm_sim.base_url}{path}?limit=100"


@pytest.mark.parametrize("listing", ["/people", "/groups", "/members"])
def test_a_field_of_the_wrong_type_names_the_page(xm_org, xm_sim, make_config, listing):
    """A person's `status` an object went past paging as a dict, and the batch of rows after it
    failed in `to_table` with `unexpected value type for column status: dict`: no URL, no field
    as the API names it (rows of many pages are batched together)."""
    xm_sim.faults.add(FaultRule("wrong_type", path_contains=listing, times=None))
    group_id = xm_org.groups[0]["id"]
    with XmattersClient(make_config(max_attempts=1)) as client, pytest.raises(ProtocolError) as caught:
        _list(client, listing, group_id)
    field, noun = {
        "/people": ("status", "a person"),
        "/groups": ("status", "a group"),
        "/members": ("member.status", "an item"),
    }[listing]
    assert str(caught.value) == (
        f"xmatters: the {field} of {noun} in {_first_url(xm_sim, listing, group_id)} "
        "is an object, not a string"
    )


@pytest.mark.parametrize("listing", ["/people", "/groups", "/members"])
def test_an_id_that_is_a_number_is_named_as_such(xm_org, xm_sim, make_config, listing):
    """`"id": 42` was "an item on the page <url> has no id": it has one, of the wrong type. Still
    refused: the API's ids are UUID strings, and C1's connector (Go) reads them into strings."""
    xm_sim.faults.add(FaultRule("id_number", path_contains=listing, times=None))
    group_id = xm_org.groups[0]["id"]
    with XmattersClient(make_config(max_attempts=1)) as client, pytest.raises(ProtocolError) as caught:
        _list(client, listing, group_id)
    field, noun = {
        "/people": ("id", "a person"),
        "/groups": ("id", "a group"),
        "/members": ("member.id", "an item"),
    }[listing]
    assert str(caught.value) == (
        f"xmatters: the {field} of {noun} in {_first_url(xm_sim, listing, group_id)} "
        "is a number, not a string"
    )


def test_a_number_of_200000_digits_is_named_not_malformed_json(xm_sim, make_config):
    """Valid JSON that Python will not read (an integer over `sys.int_info`'s 4,300 digits) was
    "malformed JSON from <url> (HTTP 200, N bytes)": the body is well formed; the number is refused."""
    xm_sim.faults.add(FaultRule("huge_number", path_contains="/people", times=None))
    with XmattersClient(make_config(max_attempts=2)) as client:
        message = _fails(client, ProtocolError)
    assert re.fullmatch(
        rf"xmatters: a number with 200,000 digits in {re.escape(xm_sim.base_url)}/people\?limit=100 "
        r"exceeds the limit of 4,300 digits \(HTTP 200, \d+ bytes\) \(gave up after 2 attempts\)",
        message,
    ), message


# ---- secrets and control characters ---------------------------------------------------------------


def test_an_error_body_echoing_the_credentials_is_redacted(xm_sim, make_config, caplog):
    xm_sim.faults.add(FaultRule("echo_auth", path_contains="/people", status=500, times=None))
    with XmattersClient(make_config(max_attempts=2)) as client:
        message = _fails(client, UnavailableError)
    assert "HTTP 500 from" in message and REDACTED in message
    for text in (message, caplog.text):
        for form in SECRET_FORMS:
            assert form not in text, form
    assert caplog.records  # the retry warning quoted the body too, redacted


def test_terminal_escapes_in_server_text_are_shown_escaped(xm_sim, make_config, caplog):
    hostile = "\x1b]0;owned\x07\x1b[2J\x1b[31mred\u202etxt.exe\x9b"
    xm_sim.faults.add(
        FaultRule("status", path_contains="/people", status=503, message=hostile, times=None),
    )
    with XmattersClient(make_config(max_attempts=2)) as client:
        message = _fails(client, UnavailableError)
    assert "\\x1b]0;owned\\x07\\x1b[2J\\x1b[31mred\\u202etxt.exe\\x9b" in message
    for text in (message, caplog.text):
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text.replace("\n", "")), text


def test_a_redirect_location_is_shortened_and_escaped(xm_sim, make_config):
    location = "https://evil.example/\x1b[2J" + "a" * 5000
    xm_sim.faults.add(
        FaultRule("status", path_contains="/people", status=302, headers=(("Location", location),))
    )
    with XmattersClient(make_config()) as client:
        message = _fails(client, ProtocolError)
    assert "(redirect to https://evil.example/\\x1b[2Jaaa" in message and "…; not followed)" in message
    assert len(message) < 700


def test_a_redirect_from_http_to_https_on_the_same_host_says_to_use_https(xm_sim, make_config):
    """What a real tenant answers to an http:// base URL: the line says what to change."""
    location = xm_sim.base_url.replace("http://", "https://") + "/people"
    xm_sim.faults.add(
        FaultRule("status", path_contains="/people", status=301, headers=(("Location", location),))
    )
    with XmattersClient(make_config()) as client:
        message = _fails(client, ProtocolError)
    assert message.endswith(f"(redirect to {location}; not followed; use https:// in --base-url)")


def test_a_huge_retry_after_is_capped(xm_org, xm_sim, make_config):
    xm_sim.faults.add(
        FaultRule("status", path_contains="/people", status=429, headers=(("Retry-After", "9" * 400),))
    )
    started = time.monotonic()
    with XmattersClient(make_config(backoff_cap_s=0.1)) as client:
        assert people_ids(client) == [p["id"] for p in xm_org.people]
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("header", ["nan", "-5", "inf", "1e3", "0x10"])
def test_an_unreadable_retry_after_falls_back_to_the_exponential_backoff(
    xm_org, xm_sim, make_config, caplog, header
):
    """`Retry-After` is delay-seconds (digits) or an HTTP date (RFC 9110). Python's `float` also
    reads `nan`, `-5`, `inf` and `1e3`: `nan` and `-5` became a wait of 0 s, so a 429 storm saying
    them was retried at once, every attempt, instead of backing off."""
    xm_sim.faults.add(
        FaultRule("status", path_contains="/people", status=429, headers=(("Retry-After", header),))
    )
    with XmattersClient(make_config(backoff_cap_s=0.4)) as client:
        assert people_ids(client) == [p["id"] for p in xm_org.people]
    (line,) = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    # the first fallback wait is BACKOFF_BASE_S (0.5) with jitter, capped at 0.4: 0.2 to 0.4 s
    assert re.search(r"retrying in 0\.[234] s \(attempt 2/4\)$", line), line
    assert "Retry-After" not in line, line


def test_more_than_100_headers_is_a_malformed_response_retried_once(xm_sim, make_config):
    headers = tuple((f"X-Pad-{i}", "x") for i in range(150))
    xm_sim.faults.add(FaultRule("status", path_contains="/people", status=503, headers=headers, times=None))
    with XmattersClient(make_config(max_attempts=6)) as client:
        message = _fails(client, UnavailableError)
    assert message.startswith(f"xmatters: malformed HTTP response from {xm_sim.base_url}/people?")
    assert message.endswith(" (more than 100 header lines) (gave up after 2 attempts)")


def test_scrub_redacts_every_form_and_escapes_controls():
    XmattersClient(_config_for_scrub())  # registers the credentials
    text = f"a {PASSWORD} b Basic {TOKEN} c {quote(TOKEN, safe='')} d \x1b[2J e \x7f"
    assert scrub(text) == f"a {REDACTED} b Basic {REDACTED} c {REDACTED} d \\x1b[2J e \\x7f"


@pytest.mark.parametrize("password", ["p", "40", "s3cr!t7"])
def test_a_short_wrong_password_leaves_the_message_readable(xm_sim, make_config, password):
    with XmattersClient(make_config(password=password)) as client:
        message = _fails(client, AuthError)
    assert f"HTTP 401 from {xm_sim.base_url}/people?limit=" in message, message
    assert "the user name or password is incorrect (check the user name and password: --username" in message
    assert REDACTED not in message


def test_a_short_secret_is_redacted_as_a_whole_token_only():
    XmattersClient(XmattersConfig(base_url="http://127.0.0.1:9/api/xm/1", username=USERNAME, password="p"))
    text = "GET http://host/api/xm/1/people?page=2: password p refused ('p', p=1, p)"
    assert scrub(text) == (
        f"GET http://host/api/xm/1/people?page=2: password {REDACTED} refused "
        f"('{REDACTED}', {REDACTED}=1, {REDACTED})"
    )


def test_a_secret_of_eight_characters_or_more_is_redacted_inside_words():
    XmattersClient(
        XmattersConfig(base_url="http://127.0.0.1:9/api/xm/1", username=USERNAME, password="hunter22")
    )
    assert scrub("xhunter22x and hunter22") == f"x{REDACTED}x and {REDACTED}"


def _config_for_scrub():
    from pipelines.xmatters.config import XmattersConfig

    return XmattersConfig(base_url="http://127.0.0.1:9/api/xm/1", username=USERNAME, password=PASSWORD)


# ---- group ids and the member-call process ---------------------------------------------------------


@pytest.mark.parametrize(
    ("group_id", "segment"), [(".", "%2E"), ("..", "%2E%2E"), ("a/b", "a%2Fb"), ("a.b", "a.b")]
)
def test_path_segments_never_resolve_to_another_path(group_id, segment):
    assert path_segment(group_id) == segment


def test_dot_segment_group_ids_are_requested_encoded(xm_org, xm_sim, make_config, monkeypatch):
    index = 0
    monkeypatch.setitem(xm_org._group_index_by_key, "..", index)
    monkeypatch.setitem(xm_org._group_index_by_key, ".", index)
    expected = xm_org.member_total(index)
    with XmattersClient(make_config()) as client:
        assert len(client.group_members("..")) == expected
        assert len(client.group_members(".")) == expected
    paths = [path for _m, path, _s in xm_sim.requests]
    assert any(p.startswith("/api/xm/1/groups/%2E%2E/members?") for p in paths), paths
    assert any(p.startswith("/api/xm/1/groups/%2E/members?") for p in paths), paths
    assert not any("/../" in p or "/./" in p for p in paths), paths


@pytest.mark.parametrize("error", [UnavailableError("HTTP 503 from x"), AuthError("HTTP 401 from x")])
def test_an_error_survives_pickling_with_one_prefix(error):
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error) == f"xmatters: {error.args[0].removeprefix('xmatters: ')}"
    assert str(copy).count("xmatters:") == 1


def test_pages_for_total_has_slack():
    assert pages_for_total(0, 0) == 3
    assert pages_for_total(230, 100) == 3 + 2
    assert pages_for_total(100_000, 1000) == 100 + 10 + 2
