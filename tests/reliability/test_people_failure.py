"""A CLI sync whose `/people` listing fails while the member calls are in flight: the member-call child
lists both (`early_members.py`), so its failing listing must end the calls too, at once."""

from __future__ import annotations

import time
from pathlib import Path

from simulator import FaultRule, Faults
from tests.reliability.conftest import RELIABILITY_SPEC, Baseline, subprocess_env
from tests.reliability.test_interrupts import _group_gone
from tests.reliability.test_process_faults import CliProcess

MEMBERS_DELAY_S = 30.0  # every members call answers this late: a sync that waited for them is seen


def test_a_people_failure_during_the_member_calls_ends_them_with_its_one_line(
    baseline: Baseline, make_simulator, tmp_path: Path
) -> None:
    rules = [
        FaultRule("slow", path_contains="/members", delay_s=MEMBERS_DELAY_S, times=None),
        # retried 3 times, 0.5 s apart: the member calls are under way when the listing gives up
        FaultRule("status", path_contains="/people", status=500, retry_after=0.5, after=1, times=None),
    ]
    sim = make_simulator(spec=RELIABILITY_SPEC, faults=Faults(rules=rules))
    started = time.monotonic()
    run = CliProcess(
        baseline.args(sim, "--backoff-cap", "0.5"), subprocess_env(baseline.home), tmp_path, new_session=True
    )
    run.proc.wait(timeout=MEMBERS_DELAY_S)
    elapsed = time.monotonic() - started
    code, _out, err = run.finish()

    baseline.assert_failed_cleanly(
        code, err, f"HTTP 500 from {sim.base_url}/people?limit=15&offset=15", "gave up after 3 attempts"
    )
    in_flight = sim.request_count - len(sim.requests)  # received, never answered: the slow calls
    assert in_flight >= 1, "no member call was under way when /people failed"
    assert elapsed < MEMBERS_DELAY_S / 2, f"the sync waited for its member calls: {elapsed:.1f} s"
    assert _group_gone(run.proc.pid), "a process of the sync outlived it"
