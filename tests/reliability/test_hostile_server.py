"""A hostile server against a whole sync: bounded memory and time, secrets scrubbed, one clear line.

The bombs and the trickle run the CLI as a real process (the simulator stays in this process) and
measure the peak RSS of the CLI's process tree (the sync, its member-call process and the
expectations worker) and the wall time. The limits are the bounds issue #20 demands, stated
generously (not speed benchmarks): a 3 GiB gzip bomb or a 512 MiB page may not take more than
1.5 GiB for the whole tree, and a trickled response may not hold a sync past `--timeout` per attempt.
docs/failure-behaviour.md ("Hostile server") lists these rows.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from dagster import DagsterInstance

from orchestration.cli import main
from simulator import FaultRule, Faults, XmattersSimulator
from tests.reliability.conftest import (
    RELIABILITY_SPEC,
    Baseline,
    error_line,
    subprocess_env,
)
from tests.reliability.test_process_faults import CliProcess
from tests.reliability.test_security import assert_not_leaked, secret_forms

GIB = 2**30
RSS_LIMIT = 1.5 * GIB  # the whole process tree; a clean sync of this org peaks around 0.6 GiB
SECRET = "xm-Hostile-5e1d77b0-do-not-leak"


# The same sampler as bench/run.py's `TreeRssSampler`, on purpose: the benchmark script stands
# alone (run outside pytest, changed for measuring), and this test must not import it.
class PeakRss:
    """Samples the summed RSS of a process and its descendants every 20 ms until stopped."""

    def __init__(self, pid: int) -> None:
        self.peak = 0
        self._root = psutil.Process(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            try:
                for proc in [self._root, *self._root.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        total += proc.memory_info().rss
            except psutil.Error:
                return
            self.peak = max(self.peak, total)
            self._stop.wait(0.02)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def _measured_sync(
    baseline: Baseline, sim: XmattersSimulator, tmp_path: Path, *extra: str
) -> tuple[int, str, int, float]:
    """(exit code, stderr, peak RSS of the process tree, wall seconds) of a CLI sync process."""
    started = time.monotonic()
    run = CliProcess(baseline.args(sim, *extra), subprocess_env(baseline.home), tmp_path)
    rss = PeakRss(run.proc.pid)
    code, _out, err = run.finish()
    wall = time.monotonic() - started
    peak = rss.stop()
    print(f"peak RSS {peak / 2**20:.0f} MiB, wall {wall:.1f} s")
    return code, err, peak, wall


def test_a_3_gib_gzip_bomb_fails_in_bounded_memory(
    baseline: Baseline, make_simulator: Callable[..., XmattersSimulator], tmp_path: Path
) -> None:
    sim = make_simulator(
        spec=RELIABILITY_SPEC,
        faults=Faults(
            rules=[FaultRule("gzip_bomb", path_contains="/people", size_bytes=3 * GIB, times=None)]
        ),
    )
    code, err, peak, wall = _measured_sync(baseline, sim, tmp_path)
    line = baseline.assert_failed_cleanly(
        code,
        err,
        f"the response from {sim.base_url}/people?",
        "more than the 64 MiB limit",
        "--max-response-mib",
    )
    assert "gave up" not in line  # not retried: a bomb stays a bomb
    assert peak < RSS_LIMIT, f"peak RSS {peak / GIB:.2f} GiB"
    assert wall < 60


def test_a_512_mib_page_fails_in_bounded_memory(
    baseline: Baseline, make_simulator: Callable[..., XmattersSimulator], tmp_path: Path
) -> None:
    rule = FaultRule(
        "huge_body", path_contains="/people", size_bytes=512 * 2**20, declare_length=False, times=None
    )
    sim = make_simulator(spec=RELIABILITY_SPEC, faults=Faults(rules=[rule]))
    code, err, peak, wall = _measured_sync(baseline, sim, tmp_path)
    baseline.assert_failed_cleanly(code, err, f"{sim.base_url}/people?", "64 MiB limit", "--max-response-mib")
    assert peak < RSS_LIMIT, f"peak RSS {peak / GIB:.2f} GiB"
    assert wall < 60


def test_a_trickled_body_is_bounded_by_timeout_per_attempt(
    baseline: Baseline, make_simulator: Callable[..., XmattersSimulator], tmp_path: Path
) -> None:
    rule = FaultRule("trickle", path_contains="/groups", delay_s=0.5, times=None)
    sim = make_simulator(spec=RELIABILITY_SPEC, faults=Faults(rules=[rule]))
    code, err, _peak, wall = _measured_sync(baseline, sim, tmp_path, "--timeout", "2")
    baseline.assert_failed_cleanly(
        code, err, "no complete response from", "/groups", "within 2 s", "(gave up after 3 attempts)"
    )
    assert wall < 60  # 3 attempts of 2 s plus start-up; each read alone never times out


# ---- in-process rows: the CLI's main() ------------------------------------------------------------


def _sync(
    baseline: Baseline, sim: XmattersSimulator, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, str]:
    code = main(baseline.args(sim, *extra))
    return code, capsys.readouterr().err


@pytest.mark.parametrize("omit_total", [False, True])
def test_an_endless_chain_of_next_links_stops(
    baseline: Baseline,
    make_simulator: Callable[..., XmattersSimulator],
    capsys: pytest.CaptureFixture[str],
    omit_total: bool,
) -> None:
    rule = FaultRule("endless_next", path_contains="/people", times=None, omit_total=omit_total)
    sim = make_simulator(spec=RELIABILITY_SPEC, faults=Faults(rules=[rule]))
    code, err = _sync(baseline, sim, capsys, "--max-pages", "25")
    basis = "the first page has no total and --max-pages is 25" if omit_total else "first page's total of 40"
    baseline.assert_failed_cleanly(code, err, f"the listing {sim.base_url}/people?limit=15 links past", basis)
    people_requests = [p for _m, p, _s in sim.requests if "/people" in p]
    assert len(people_requests) == (25 if omit_total else 3 + 2)


def test_json_nested_100000_deep_is_one_line_naming_the_url(
    baseline: Baseline, make_simulator: Callable[..., XmattersSimulator], capsys: pytest.CaptureFixture[str]
) -> None:
    rule = FaultRule("deep_json", path_contains="/people", times=None)
    sim = make_simulator(spec=RELIABILITY_SPEC, faults=Faults(rules=[rule]))
    code, err = _sync(baseline, sim, capsys)
    baseline.assert_failed_cleanly(
        code, err, f"malformed JSON from {sim.base_url}/people?", "nested too deep"
    )
    assert "RecursionError" not in err


def test_a_500_echoing_the_credentials_is_scrubbed_everywhere(
    baseline: Baseline,
    make_simulator: Callable[..., XmattersSimulator],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Neither stderr, the log, the Dagster event log nor any file under the test's directory
    (warehouse, dlt state, compute logs) holds the password, the Basic token or its encodings."""
    rules = [
        FaultRule("echo_auth", path_contains="/people", status=500, times=None),
        FaultRule("echo_auth", path_contains="/members", status=500, times=None),
    ]
    sim = make_simulator(spec=RELIABILITY_SPEC, password=SECRET, faults=Faults(rules=rules))
    code, err = _sync(baseline, sim, capsys)
    line = baseline.assert_failed_cleanly(code, err, "HTTP 500 from", "[redacted]")
    assert "Authorization: Basic [redacted]" in line
    instance = DagsterInstance.from_config(str(baseline.home / "dagster"))
    try:
        events = "\n".join(
            str(record.event_log_entry)
            for run in instance.get_runs()
            for record in instance.get_records_for_run(run.run_id, limit=10_000).records
        )
    finally:
        instance.dispose()
    assert "[redacted]" in events  # the failure reached the event log, scrubbed
    forms = secret_forms(sim.username, SECRET)
    forms["url-encoded basic auth token"] = secret_forms(sim.username, SECRET)["basic auth token"].replace(
        b"=", b"%3D"
    )
    assert_not_leaked(forms, tmp_path, {"stderr": err, "log": caplog.text, "event log": events})


def test_terminal_escapes_from_the_server_are_escaped_on_stderr(
    baseline: Baseline, make_simulator: Callable[..., XmattersSimulator], capsys: pytest.CaptureFixture[str]
) -> None:
    hostile = "\x1b]0;owned\x07\x1b[2J\x1b[H\x9b31m gone"
    rule = FaultRule("status", path_contains="/people", status=503, message=hostile, times=None)
    sim = make_simulator(spec=RELIABILITY_SPEC, faults=Faults(rules=[rule]))
    code, err = _sync(baseline, sim, capsys)
    line = baseline.assert_failed_cleanly(code, err, "HTTP 503 from")
    assert "\\x1b]0;owned\\x07\\x1b[2J\\x1b[H\\x9b31m gone" in line
    assert "\x1b" not in err and "\x07" not in err and "\x9b" not in err


def test_an_error_of_the_member_call_process_is_prefixed_once(
    baseline: Baseline, make_simulator: Callable[..., XmattersSimulator], capsys: pytest.CaptureFixture[str]
) -> None:
    rule = FaultRule("status", path_contains="/members", status=503, times=None)
    sim = make_simulator(spec=RELIABILITY_SPEC, faults=Faults(rules=[rule]))
    code, err = _sync(baseline, sim, capsys)
    line = error_line(err)
    assert code == 1, err
    assert line.startswith("baton-xmatters: error: xmatters: HTTP 503 from"), line
    assert "xmatters: xmatters:" not in err
    baseline.assert_unchanged()


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--max-response-mib", "0", "--max-response-mib must be > 0"),
        ("--max-pages", "0", "--max-pages must be >= 1"),
    ],
)
def test_the_bounds_flags_are_checked_before_any_request(
    baseline: Baseline,
    make_simulator: Callable[..., XmattersSimulator],
    capsys: pytest.CaptureFixture[str],
    flag: str,
    value: str,
    message: str,
) -> None:
    sim = make_simulator(spec=RELIABILITY_SPEC)
    code, err = _sync(baseline, sim, capsys, flag, value)
    assert code == 2, err
    assert message in error_line(err)
    assert sim.request_count == 0
