"""The HTTP client against the simulator's fault knobs: what it survives, and how it fails when it must.

Each fault either ends in exactly the simulator's rows, or in one classified one-line error.
"""

from __future__ import annotations

import logging
import socket

import pytest

from pipelines.xmatters.client import XmattersClient
from pipelines.xmatters.errors import (
    AuthError,
    NotFoundError,
    ProtocolError,
    UnavailableError,
    XmattersError,
)
from pipelines.xmatters.member_pages import member_key
from pipelines.xmatters.people_pages import person_key
from pipelines.xmatters.report import ExtractReport
from simulator import FaultRule


def people_ids(client: XmattersClient) -> list[str]:
    return [person_key(item) for page in client.people_pages() for item in page]


def member_ids(client: XmattersClient, group_id: str) -> list[str]:
    return [member_key(item) for item in client.group_members(group_id)]


def largest_group(org) -> str:
    return max(org.member_counts().items(), key=lambda kv: kv[1])[0]


# ---- transient faults: retried, then exactly the right rows ----------------------------------------


@pytest.mark.parametrize(
    "rule",
    [
        FaultRule("status", status=429, times=2),
        FaultRule("status", status=500, times=3),
        FaultRule("status", status=502, times=3),
        FaultRule("status", status=503, times=3),
        FaultRule("status", status=504, times=3),
        FaultRule("drop", times=2),
        FaultRule("reset", times=2),
        FaultRule("malformed_json", times=1),
        FaultRule("truncated_json", times=1),
        FaultRule("html_200", times=1),
    ],
    ids=lambda rule: f"{rule.kind}-{rule.status}" if rule.kind == "status" else rule.kind,
)
def test_transient_faults_on_a_later_page_are_retried(xm_org, xm_sim, make_config, rule):
    rule.path_contains, rule.after = "/people", 1  # page 2 of 3
    xm_sim.faults.add(rule)
    report = ExtractReport()
    with XmattersClient(make_config(), report) as client:
        assert people_ids(client) == [p["id"] for p in xm_org.people]
    assert rule.fired == rule.times
    # A kept-alive connection closed before any byte of the answer is what a server does to an idle
    # one: that GET is sent once more on a new connection without counting a retry (direct_http).
    assert report.retries == (rule.times - 1 if rule.kind == "drop" else rule.times)


def test_a_response_slower_than_the_timeout_is_retried(xm_org, xm_sim, make_config, caplog):
    xm_sim.faults.add(FaultRule("slow", path_contains="/people", delay_s=1.0, times=1))
    with XmattersClient(make_config(timeout_s=0.3)) as client:
        assert people_ids(client) == [p["id"] for p in xm_org.people]
    assert "within 0.3 s; retrying in" in caplog.text


def test_retry_after_is_honoured_and_the_wait_is_logged(xm_org, xm_sim, make_config, caplog):
    caplog.set_level(logging.WARNING, logger="pipelines.xmatters")
    xm_sim.faults.add(FaultRule("status", status=429, retry_after=1, path_contains="/people", times=1))
    with XmattersClient(make_config(backoff_cap_s=5.0)) as client:
        assert people_ids(client) == [p["id"] for p in xm_org.people]
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        f"429 from {xm_sim.base_url}/people?limit=100: Too many requests: the rate limit for this company "
        "was exceeded; retrying in 1.0 s (attempt 2/4)"
    )


def test_only_the_first_429_retry_warns_and_every_retry_is_counted(xm_org, xm_sim, make_config, caplog):
    """Throttling is flow control: one warning, the rest at debug; a 503 stays a warning each time."""
    caplog.set_level(logging.DEBUG, logger="pipelines.xmatters")
    xm_sim.faults.add(FaultRule("status", status=429, retry_after=0, path_contains="/people", times=3))
    xm_sim.faults.add(FaultRule("status", status=503, path_contains="/groups", times=2))
    report = ExtractReport()
    with XmattersClient(make_config(max_attempts=5, backoff_cap_s=0.01), report) as client:
        assert people_ids(client) == [p["id"] for p in xm_org.people]
        assert sum(len(page) for page in client.group_pages()) == len(xm_org.groups)
    retried = [r for r in caplog.records if "retrying in" in r.getMessage()]
    levels = [(r.getMessage().split(" from ")[0], r.levelno) for r in retried]
    assert levels == [
        ("429", logging.WARNING),
        ("429", logging.DEBUG),
        ("429", logging.DEBUG),
        ("503", logging.WARNING),
        ("503", logging.WARNING),
    ], levels
    assert report.retries == 5


@pytest.mark.parametrize("retry_after", [3600, "Wed, 21 Oct 2099 07:28:00 GMT"])
def test_a_retry_after_far_in_the_future_is_capped(xm_org, xm_sim, make_config, caplog, retry_after):
    xm_sim.faults.add(
        FaultRule("status", status=429, retry_after=retry_after, path_contains="/people", times=1)
    )
    with XmattersClient(make_config(backoff_cap_s=0.2)) as client:
        assert people_ids(client) == [p["id"] for p in xm_org.people]
    assert "retrying in 0.2 s (attempt 2/4)" in caplog.text


# ---- page anomalies that still give exact rows -----------------------------------------------------


@pytest.mark.parametrize(
    "kind", ["total_first_page_only", "total_mismatch", "repeat_row", "empty_page_with_next"]
)
def test_page_anomalies_still_give_exactly_the_rows(xm_org, xm_sim, make_config, kind):
    times = 1 if kind == "empty_page_with_next" else None  # a one-off empty page is re-read
    xm_sim.faults.add(FaultRule(kind, path_contains="/people", after=1, times=times))
    group = largest_group(xm_org)
    xm_sim.faults.add(FaultRule(kind, path_contains="/members", after=2, times=times))
    report = ExtractReport()
    with XmattersClient(make_config(), report) as client:
        assert people_ids(client) == [p["id"] for p in xm_org.people]
        assert member_ids(client, group) == [item["member"]["id"] for item in xm_org.members[group]]
    if kind == "repeat_row":
        assert report.duplicates_dropped >= 2  # one on /people, one or more on the member pages


# ---- permanent failures: one classified line -------------------------------------------------------


def test_401_fails_at_once_naming_status_endpoint_and_message(xm_sim, make_config):
    with (
        XmattersClient(make_config(password="not-the-password")) as client,
        pytest.raises(AuthError) as raised,
    ):
        people_ids(client)
    assert str(raised.value) == (
        f"xmatters: HTTP 401 from {xm_sim.base_url}/people?limit=100: Authentication failed: the user name "
        "or password is incorrect (check the user name and password: --username, --password or "
        "--password-file; BATON_USERNAME, BATON_PASSWORD or BATON_PASSWORD_FILE)"
    )
    assert xm_sim.request_count == 1
    assert raised.value.__cause__ is None and raised.value.__context__ is None


def test_403_carries_the_message_xmatters_sent(xm_sim, make_config):
    xm_sim.faults.add(FaultRule("status", status=403, message="Role lacks People read", times=None))
    with XmattersClient(make_config()) as client, pytest.raises(AuthError, match="HTTP 403 from .*/people"):
        people_ids(client)
    assert xm_sim.request_count == 1


def test_404_on_people_points_at_the_base_url(xm_sim, make_config):
    config = make_config(base_url=f"{xm_sim.origin}/wrong/api/xm/1")
    pattern = r"HTTP 404 from .*/wrong/api/xm/1/people.*check --base-url"
    with XmattersClient(config) as client, pytest.raises(NotFoundError, match=pattern):
        people_ids(client)


@pytest.mark.parametrize(
    ("rule", "error", "pattern"),
    [
        (
            FaultRule("status", status=503, times=None),
            UnavailableError,
            r"HTTP 503 .*gave up after 4 attempts",
        ),
        (FaultRule("drop", times=None), UnavailableError, r"gave up after 4 attempts"),
        (FaultRule("malformed_json", times=None), ProtocolError, r"malformed JSON from .*/people"),
        (FaultRule("truncated_json", times=None), ProtocolError, r"truncated JSON from .*/people"),
        (FaultRule("html_200", times=None), ProtocolError, r"expected JSON from .* but got text/html"),
        (FaultRule("data_not_list", times=None), ProtocolError, r"has no 'data' list \(got dict\)"),
        (FaultRule("item_without_id", times=None), ProtocolError, r"an item on the page .* has no id"),
        (FaultRule("next_loop", times=None), ProtocolError, r"paging loop"),
        (FaultRule("next_foreign", times=None), ProtocolError, r"another origin \(http://xmatters.invalid\)"),
        (FaultRule("empty_page_with_next", times=None), ProtocolError, r"is empty but links to a next page"),
    ],
    ids=lambda v: v.kind if isinstance(v, FaultRule) else "",
)
def test_persistent_faults_fail_with_one_classified_line(xm_sim, make_config, rule, error, pattern):
    rule.path_contains = "/people"
    xm_sim.faults.add(rule)
    with XmattersClient(make_config()) as client, pytest.raises(error, match=pattern) as raised:
        people_ids(client)
    assert "\n" not in str(raised.value)
    assert raised.value.__cause__ is None


def test_a_foreign_next_link_is_never_requested(xm_sim, make_config):
    xm_sim.faults.add(
        FaultRule(
            "next_foreign",
            path_contains="/people",
            foreign_origin=xm_sim.origin.replace("127.0.0.1", "localhost"),
            times=None,
        )
    )
    with XmattersClient(make_config()) as client, pytest.raises(ProtocolError, match="another origin"):
        people_ids(client)
    assert xm_sim.request_count == 1  # localhost is the same machine, but another origin: not followed


def test_a_response_slower_than_the_timeout_every_time_fails(xm_sim, make_config):
    xm_sim.faults.add(FaultRule("slow", path_contains="/people", delay_s=1.0, times=None))
    with (
        XmattersClient(make_config(timeout_s=0.2, max_attempts=2)) as client,
        pytest.raises(
            UnavailableError, match=r"no complete response from .* within 0.2 s \(gave up after 2 attempts\)"
        ),
    ):
        people_ids(client)


def test_connection_refused_is_unavailable(make_config):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = make_config(base_url=f"http://127.0.0.1:{port}/api/xm/1", max_attempts=2)
    with XmattersClient(config) as client, pytest.raises(UnavailableError) as raised:
        people_ids(client)
    assert str(raised.value) == (
        f"xmatters: connection refused by http://127.0.0.1:{port}/api/xm/1/people?limit=100 "
        "(gave up after 2 attempts)"
    )


def _lookups(monkeypatch, *failures: int) -> list[str]:
    """`socket.getaddrinfo` for this test: each call takes the next of `failures` (a gaierror code;
    0 asks the real resolver, for loopback only) and the rest ask the real one; returns the hosts asked."""
    real, pending, asked = socket.getaddrinfo, list(failures), []

    def lookup(host, *args, **kwargs):
        asked.append(host)
        code = pending.pop(0) if pending else 0
        if code:
            raise socket.gaierror(
                code, "Name or service not known" if code == socket.EAI_NONAME else "Temporary"
            )
        assert host in ("localhost", "127.0.0.1"), host  # nothing leaves the machine
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    return asked


def test_a_host_that_does_not_resolve_fails_at_once_naming_it(make_config, monkeypatch):
    """NXDOMAIN before any answer: a wrong base URL, not a passing fault. It was retried for
    --max-attempts with backoff (~30 s with the defaults) before failing."""
    asked = _lookups(monkeypatch, *[socket.EAI_NONAME] * 10)
    report = ExtractReport()
    config = make_config(base_url="http://no-such-host.invalid/api/xm/1", allow_insecure_http=True)
    with XmattersClient(config, report) as client, pytest.raises(UnavailableError) as raised:
        people_ids(client)
    assert str(raised.value) == (
        "xmatters: no such host: no-such-host.invalid does not resolve (DNS); "
        "check the base URL http://no-such-host.invalid/api/xm/1/people?limit=100"
    )
    assert (asked, report.retries) == (["no-such-host.invalid"], 0)


def test_a_resolver_that_does_not_answer_is_retried(make_config, monkeypatch):
    """EAI_AGAIN (the resolver timed out, e.g. a DNS server restarting) may pass: retried as before."""
    asked = _lookups(monkeypatch, *[socket.EAI_AGAIN] * 10)
    config = make_config(base_url="http://no-such-host.invalid/api/xm/1", allow_insecure_http=True)
    with XmattersClient(config) as client, pytest.raises(UnavailableError) as raised:
        people_ids(client)
    assert str(raised.value).endswith("(DNS lookup failed) (gave up after 4 attempts)")
    assert asked == ["no-such-host.invalid"] * 4


def test_nxdomain_after_the_host_answered_is_retried(xm_org, xm_sim, make_config, monkeypatch):
    """Mid-sync, an NXDOMAIN for a host that has answered is a resolver's blip: retried, all rows read."""
    base_url = xm_sim.base_url.replace("127.0.0.1", "localhost")
    with XmattersClient(make_config(base_url=base_url)) as client:
        assert client.get_json(f"{base_url}/people?limit=1")["data"]
        xm_sim.faults.add(FaultRule("drop", times=1))  # the next request needs a new connection
        asked = _lookups(monkeypatch, socket.EAI_NONAME)
        assert people_ids(client) == [p["id"] for p in xm_org.people]
    assert asked[:2] == ["localhost", "localhost"]  # the blip, then the retry's lookup


# ---- groups by name ---------------------------------------------------------------------------------


def test_members_by_a_name_that_needs_url_encoding(xm_org, xm_sim, make_config):
    awkward = [
        g
        for g in xm_org.groups
        if any(c in g["targetName"] for c in '/ #%?&+\\"') or not g["targetName"].isascii()
    ]
    assert awkward, "the simulated org should have group names that need URL encoding"
    with XmattersClient(make_config()) as client:
        for group in awkward:
            by_name = member_ids(client, group["targetName"])
            assert by_name == member_ids(client, group["id"])
            assert by_name == [item["member"]["id"] for item in xm_org.members[group["id"]]]


def test_errors_are_xmatters_errors():
    for cls in (AuthError, NotFoundError, ProtocolError, UnavailableError):
        assert issubclass(cls, XmattersError)
