"""The fault matrix: one full CLI sync per fault, against the simulator's fault knobs.

Each row starts from a good previous sync. A run either completes with exactly the simulator's
ground truth, or exits 1 with a one-line cause and leaves the previous `.c1z` byte-identical and the
published `c1` tables unchanged. docs/failure-behaviour.md lists the rows and names these tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from orchestration.cli import main
from simulator import FaultRule, Faults, Org, XmattersSimulator
from tests.orchestration.conftest import expected_from_org
from tests.reliability.conftest import RELIABILITY_SPEC, Baseline, error_line


@dataclass(frozen=True)
class Row:
    """A fault and what the user must see: `fails` holds the fragments of the one-line error."""

    rules: Callable[[], list[FaultRule]]
    fails: tuple[str, ...] = ()
    extra_args: tuple[str, ...] = ()
    stderr_has: tuple[str, ...] = ()
    fired: int | None = None  # how often each rule must have fired
    completes: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "completes", not self.fails)


def _rule(kind: str, path: str = "/people", **kwargs: object) -> Callable[[], list[FaultRule]]:
    return lambda: [FaultRule(kind, path_contains=path, **kwargs)]  # type: ignore[arg-type]


ROWS: dict[str, Row] = {
    # --- throttling and server errors: retried, the wait is shown, a storm that outlasts the attempts fails
    "429 storm, Retry-After an hour (capped)": Row(
        _rule("status", status=429, retry_after=3600, times=2),
        stderr_has=("WARNING", "429 from", "retrying in 0.1 s (attempt 2/3); Retry-After 3600 s capped"),
        extra_args=("--backoff-cap", "0.1"),
        fired=2,
    ),
    "429 storm, no Retry-After": Row(
        _rule("status", path="/groups", status=429, times=2), stderr_has=("WARNING", "429 from"), fired=2
    ),
    "429 storm outlasting the attempts": Row(
        _rule("status", status=429, retry_after=3600, times=None),
        fails=("HTTP 429 from", "/people", "(gave up after 3 attempts)"),
        fired=3,
    ),
    "500/502/503/504 bursts": Row(
        lambda: [
            FaultRule("status", path_contains="/people", status=500, times=2),
            FaultRule("status", path_contains="/groups?", status=502, times=2),
            FaultRule("status", path_contains="/members", status=503, times=2),
            FaultRule("status", path_contains="/members", status=504, times=2),
        ],
        stderr_has=("500 from", "502 from", "503 from", "504 from"),
        fired=2,
    ),
    "503 that never ends": Row(
        _rule("status", path="/groups", status=503, times=None),
        fails=("HTTP 503 from", "/groups", "gave up after 3 attempts"),
        fired=3,
    ),
    # --- the network
    "reset mid-body": Row(_rule("reset", times=1), stderr_has=("connection",), fired=1),
    "reset mid-body on every attempt": Row(
        _rule("reset", times=None), fails=("/people", "gave up after 3 attempts"), fired=3
    ),
    "response slower than the timeout": Row(
        _rule("slow", delay_s=2.0, times=1),
        extra_args=("--timeout", "0.5"),
        stderr_has=("no complete response from", "within 0.5 s"),
        fired=1,
    ),
    "every response slower than the timeout": Row(
        _rule("slow", path="/groups", delay_s=2.0, times=None),
        extra_args=("--timeout", "0.5"),
        fails=("no complete response from", "/groups", "within 0.5 s", "gave up after 3 attempts"),
        fired=3,
    ),
    # --- bodies that are not an xMatters page
    "malformed JSON": Row(
        _rule("malformed_json", times=None), fails=("malformed JSON from", "/people", "gave up"), fired=3
    ),
    "truncated JSON": Row(
        _rule("truncated_json", path="/groups", times=None),
        fails=("truncated JSON from", "/groups", "gave up"),
        fired=3,
    ),
    "HTML page with status 200": Row(
        _rule("html_200", times=None), fails=("expected JSON from", "got text/html", "gave up"), fired=3
    ),
    "data not a list": Row(
        _rule("data_not_list", times=None), fails=("has no 'data' list (got dict)",), fired=1
    ),
    "item without id": Row(
        _rule("item_without_id", path="/members", times=None), fails=("/members", "has no id")
    ),
    "a field of the wrong type": Row(
        _rule("wrong_type", times=None), fails=("the status of a person in", "/people?", "is an object")
    ),
    "an id that is a number": Row(
        _rule("id_number", path="/members", times=None),
        fails=("the member.id of an item in", "/members?", "is a number, not a string"),
    ),
    "a number of 200,000 digits": Row(
        _rule("huge_number", path="/groups?", times=None),
        fails=("a number with 200,000 digits in", "/groups?", "exceeds the limit of 4,300 digits", "gave up"),
        fired=3,
    ),
    # --- paging anomalies
    # two requests: the first page was asked without `offset`, its self link has `offset=0`
    "next link loops to the same page": Row(
        _rule("next_loop", times=None), fails=("paging loop", "/people"), fired=2
    ),
    "one-off glitches (drop, broken bodies, an empty page with next), retried": Row(
        lambda: [
            FaultRule("malformed_json", path_contains="/people", times=1),
            FaultRule("empty_page_with_next", path_contains="/people", times=1),
            FaultRule("truncated_json", path_contains="/groups?", times=1),
            FaultRule("html_200", path_contains="/members", times=1),
            FaultRule("drop", path_contains="/members", times=1),
        ],
        stderr_has=("malformed JSON from", "truncated JSON from", "expected JSON from", "connection"),
        fired=1,
    ),
    "total disagreeing with the rows, or missing after page one": Row(
        lambda: [
            FaultRule("total_mismatch", path_contains="/groups?", times=None),
            FaultRule("total_first_page_only", path_contains="/people", times=None),
        ]
    ),
    "same row on two pages": Row(_rule("repeat_row", times=None), fired=2),
    "empty page with a next link": Row(
        _rule("empty_page_with_next", times=None), fails=("is empty but links to a next page",), fired=2
    ),
    # --- what xMatters answers for bad credentials, permissions and URLs
    "403 on /people": Row(
        _rule("status", status=403, message="Forbidden: role lacks People > View", times=None),
        fails=("HTTP 403 from", "/people", "Forbidden: role lacks People > View", "lacks permission"),
        fired=1,
    ),
    "404 on /people (wrong base URL)": Row(
        _rule("status", status=404, times=None),
        fails=("HTTP 404 from", "/people", "check --base-url"),
        fired=1,
    ),
}


@pytest.mark.parametrize("name", list(ROWS))
def test_fault_row(
    name: str,
    baseline: Baseline,
    make_simulator: Callable[..., XmattersSimulator],
    reliability_org: Org,
    capsys: pytest.CaptureFixture[str],
) -> None:
    row = ROWS[name]
    sim = make_simulator(spec=RELIABILITY_SPEC, faults=Faults().add(*row.rules()))
    code = main(baseline.args(sim, *row.extra_args))
    _, err = capsys.readouterr()
    if row.completes:
        baseline.assert_synced(code, err, expected_from_org(reliability_org))
    else:
        baseline.assert_failed_cleanly(code, err, *row.fails)
    for text in row.stderr_has:
        assert text in err
    if row.fired is not None:
        assert [rule.fired for rule in sim.faults.rules] == [row.fired] * len(sim.faults.rules)


def test_401_shows_xmatters_message(
    baseline: Baseline, make_simulator: Callable[..., XmattersSimulator], capsys: pytest.CaptureFixture[str]
) -> None:
    sim = make_simulator(spec=RELIABILITY_SPEC)
    args = baseline.args(sim)
    args[args.index("--password") + 1] = "not-the-password"
    code = main(args)
    line = baseline.assert_failed_cleanly(
        code, capsys.readouterr().err, "HTTP 401 from", "/groups?", "the user name or password is incorrect"
    )
    assert "--password" in line and "not-the-password" not in line


def test_401_with_a_password_file_names_the_file_options(
    baseline: Baseline,
    make_simulator: Callable[..., XmattersSimulator],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The README's way to keep the secret out of shell history: a wrong secret in the file was
    told to "check --username/--password or BATON_USERNAME/BATON_PASSWORD", neither of which was used."""
    sim = make_simulator(spec=RELIABILITY_SPEC)
    args = baseline.args(sim)
    secret = tmp_path / "xmatters-secret"
    secret.write_text("not-the-password\n")
    at = args.index("--password")
    args[at : at + 2] = ["--password-file", str(secret)]
    code = main(args)
    line = baseline.assert_failed_cleanly(code, capsys.readouterr().err, "HTTP 401 from", "/groups?")
    assert line.endswith(
        "the user name or password is incorrect (check the user name and password: --username, "
        "--password or --password-file; BATON_USERNAME, BATON_PASSWORD or BATON_PASSWORD_FILE)"
    ), line
    assert "not-the-password" not in line


def test_connection_refused(
    baseline: Baseline, reliability_org: Org, capsys: pytest.CaptureFixture[str]
) -> None:
    """A stopped simulator's port: nothing listens there any more."""
    with XmattersSimulator(reliability_org) as sim:
        base_url = sim.base_url
    code = main(baseline.args(sim, base_url=base_url))
    baseline.assert_failed_cleanly(
        code, capsys.readouterr().err, "connection refused by", base_url, "gave up after 3 attempts"
    )


def test_dns_failure(
    baseline: Baseline, _no_dns_beyond_loopback: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """`.invalid` never resolves (RFC 6761); the lookup is answered in-process, nothing leaves the machine.
    A name that does not exist, before the host ever answered, fails at once (one lookup, no retry)."""
    code = main(baseline.args(None, "--allow-insecure-http", base_url="http://xmatters.invalid/api/xm/1"))
    err = capsys.readouterr().err
    baseline.assert_failed_cleanly(
        code,
        err,
        "no such host: xmatters.invalid does not resolve (DNS); "
        "check the base URL http://xmatters.invalid/api/xm/1/groups?",
    )
    assert "retrying" not in err
    assert _no_dns_beyond_loopback == ["xmatters.invalid"]


def test_next_link_to_another_origin_is_never_requested(
    baseline: Baseline, make_simulator: Callable[..., XmattersSimulator], capsys: pytest.CaptureFixture[str]
) -> None:
    """The other origin is a second live simulator: it must receive no request (and so no password)."""
    elsewhere = make_simulator(spec=RELIABILITY_SPEC)
    sim = make_simulator(
        spec=RELIABILITY_SPEC,
        faults=Faults().add(
            FaultRule("next_foreign", path_contains="/people", foreign_origin=elsewhere.origin)
        ),
    )
    code = main(baseline.args(sim))
    baseline.assert_failed_cleanly(
        code,
        capsys.readouterr().err,
        "points to another origin",
        elsewhere.origin,
        "refusing to send credentials",
    )
    assert elsewhere.request_count == 0
    assert sim.faults.rules[0].fired == 1


def test_group_deleted_mid_sync_is_kept_without_members_with_a_warning(
    baseline: Baseline,
    make_simulator: Callable[..., XmattersSimulator],
    reliability_org: Org,
    capsys: pytest.CaptureFixture[str],
) -> None:
    org = reliability_org
    victim = next(
        g for g in org.groups if any(m["member"]["recipientType"] == "PERSON" for m in org.members[g["id"]])
    )
    sim = make_simulator(spec=RELIABILITY_SPEC, faults=Faults(deleted_groups={victim["id"]}))
    code = main(baseline.args(sim))
    out, err = capsys.readouterr()
    expected = expected_from_org(org)
    lost = {g for g in expected.grants if g.startswith(f"group:{victim['id']}:member:")}
    assert lost
    # a person outside /people's scope is only known through memberships: gone with the victim's
    still_seen = {
        m["member"]["id"] for gid, items in org.members.items() if gid != victim["id"] for m in items
    }
    users = {u for u in expected.users if u in {p["id"] for p in org.people} or u in still_seen}
    expected = type(expected)(users, expected.groups, expected.entitlements, expected.grants - lost, {})
    baseline.assert_synced(code, err, expected)
    assert f"warning        group {victim['targetName']} ({victim['id']}) kept without members" in out
    assert any(line.split()[1:2] == ["WARNING"] and victim["id"] in line for line in err.splitlines()), err


def test_plain_http_to_a_remote_host_is_refused(
    baseline: Baseline, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(baseline.args(None, base_url="http://xmatters.example.com/api/xm/1"))
    assert code == 2
    line = error_line(capsys.readouterr().err)
    assert "plain http to a remote host" in line and "--allow-insecure-http" in line
    baseline.assert_unchanged()
