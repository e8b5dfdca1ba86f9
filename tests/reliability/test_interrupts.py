"""Ctrl-C and SIGTERM at each stage of a CLI sync: one line, exit 130/143 at once, nothing lost.

A terminal's Ctrl-C goes to the whole foreground process group (the CLI and every process it
started), so SIGINT is sent to the group; SIGTERM, as a supervisor sends it, to the CLI alone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance, DagsterRunStatus

from orchestration.cli import main
from orchestration.interrupts import MESSAGE
from pipelines.c1z.reader import open_c1z
from pipelines.xmatters.config import XmattersConfig
from simulator import FaultRule, Faults, Org, XmattersSimulator
from tests.orchestration.conftest import expected_from_org
from tests.reliability.conftest import RELIABILITY_SPEC, Baseline, published_state, subprocess_env
from tests.reliability.held_stage import HELD
from tests.reliability.test_process_faults import (
    DATA_TABLES,
    REQUEST_HOLD_S,
    SIGNAL_LATE_S,
    STAGES,
    CliProcess,
    Stage,
    assert_signalled_while_held,
)

DEFAULT_CONCURRENCY = XmattersConfig().concurrency
EXIT_WITHIN_S = 5.0  # what the issue asks of an interrupt, at any stage
# and the warehouse's checkpoint beside the write (orchestration/publish.py), under way as the process ends
INTERRUPT_STAGES = {**STAGES, "checkpoint": Stage(marker=HELD["checkpoint"], held="checkpoint")}
CASES = [
    *((name, signal.SIGINT) for name in INTERRUPT_STAGES),
    ("extract", signal.SIGTERM),
    ("write", signal.SIGTERM),
]


def _group_gone(pgid: int, within_s: float = 5.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def _newest_published(warehouse: Path) -> tuple[str, str]:
    """The sync id and file of the newest sync the warehouse published (`c1.sync_runs`)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        row = con.execute(
            "SELECT sync_id, sync_file FROM c1.sync_runs ORDER BY published_at DESC LIMIT 1"
        ).fetchone()
    assert row is not None
    return row[0], row[1]


def _sync_id(sync_file: Path) -> str:
    with open_c1z(sync_file) as reader:
        return reader.sync_id


def _latest_run_status(home: Path) -> DagsterRunStatus:
    with DagsterInstance.from_config(str(home / "dagster")) as instance:
        return instance.get_runs(limit=1)[0].status


@pytest.mark.parametrize(("stage_name", "signum"), CASES, ids=[f"{s}-{n.name}" for s, n in CASES])
def test_interrupt_at_stage_stops_at_once_and_loses_nothing(
    stage_name: str,
    signum: signal.Signals,
    baseline: Baseline,
    make_simulator: Callable[..., XmattersSimulator],
    reliability_org: Org,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stage = INTERRUPT_STAGES[stage_name]
    # Every request answered in 0.2 s: requests are in flight when the signal comes.
    sim = make_simulator(spec=RELIABILITY_SPEC, faults=stage.faults(latency_s=0.2))
    env = subprocess_env(baseline.home)
    run = CliProcess(baseline.args(sim), env, tmp_path, new_session=True, held=stage.held)
    reached = run.wait_for_stage(stage, sim)
    requests_at_signal = sim.request_count
    signalled = time.monotonic()
    if reached:
        if signum == signal.SIGINT:
            os.killpg(run.proc.pid, signum)
        else:
            os.kill(run.proc.pid, signum)
    try:
        run.proc.wait(timeout=EXIT_WITHIN_S)
    except subprocess.TimeoutExpired:
        run.proc.kill()
        lines = "".join(run.lines)
        raise AssertionError(f"still running {EXIT_WITHIN_S} s after {signum.name}:\n{lines}") from None
    took = time.monotonic() - signalled
    code, out, err = run.finish()
    assert reached, f"the run ended (exit {code}) before reaching {stage_name}:\n{err}"

    # One line, the signal's exit status, no traceback; every process of the group gone. A publish
    # the interrupt waited for is told in it (the publish's own line came after the silence).
    line = MESSAGE
    if stage_name == "publish":
        published = f"sync {_sync_id(baseline.sync_file)}"
        line = (
            f"{MESSAGE}; {published} was published first ({baseline.sync_file} and the c1 tables, together)"
        )
    assert code == 128 + signum, err
    assert err.strip().splitlines()[-1] == line, err
    assert "Traceback" not in err and "error" not in err.lower(), err
    assert _group_gone(run.proc.pid), f"processes of group {run.proc.pid} outlived the CLI"
    # the signal found the run held in the stage: nothing said after its line but the interrupt's
    assert_signalled_while_held(stage, run, sim, line)

    # No request after the signal beyond those in flight (one per member-call thread and /people).
    requests_at_exit = sim.request_count
    assert requests_at_exit - requests_at_signal <= DEFAULT_CONCURRENCY + 1
    time.sleep(0.5)
    assert sim.request_count == requests_at_exit, "requests went on after the CLI exited"

    # Nothing lost: the previous file and tables, or (interrupted while publishing, which an
    # interrupt waits for) the complete new ones; nothing left beside the file.
    if stage_name == "publish":
        after = published_state(baseline.warehouse)
        before = baseline.published
        assert {t: after.tables[t] for t in DATA_TABLES} == {t: before.tables[t] for t in DATA_TABLES}
        baseline.assert_synced(0, err, expected_from_org(reliability_org))
        # the run held in publishing until the interrupt began (held_stage.py), so the commit and
        # the rename it waited for both happened: the new file, recorded by the new tables
        assert baseline.sync_file.read_bytes() != baseline.file_bytes, "the new .c1z was not published"
        assert _newest_published(baseline.warehouse) == (
            _sync_id(baseline.sync_file),
            str(baseline.sync_file),
        )
    else:
        baseline.assert_unchanged()
        assert _latest_run_status(baseline.home) == DagsterRunStatus.CANCELED
    print(f"{stage_name} {signum.name}: exited {took:.2f} s after the signal")

    # The next run (no hold, no latency) succeeds and writes the ground truth.
    sim.faults.clear()
    code = main(baseline.args(sim))
    out, err = capsys.readouterr()
    baseline.assert_synced(code, err, expected_from_org(reliability_org))


def test_ctrl_c_outside_a_sync_is_one_line_too(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """E.g. while `demo` builds its organisation, before the sync (and its watcher) started."""
    from orchestration import cli

    def interrupted(args: list[str]) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_main", interrupted)
    assert cli.main(["demo"]) == 130
    assert capsys.readouterr().err == MESSAGE + "\n"


def test_ctrl_c_in_start_up_stops_the_member_calls_already_under_way(
    baseline: Baseline,
    make_simulator: Callable[..., XmattersSimulator],
    reliability_org: Org,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The CLI starts the member calls before it imports Dagster (`early_members.py`): Ctrl-C while
    they are in flight and the run does not exist yet is one line, 130, the child gone, no request
    after the signal, the previous state kept and no run left running.

    Held so on a loaded machine too: the run is not built until the signal (`start-up` in
    held_stage.py) and the members calls are answered only after `REQUEST_HOLD_S`.
    """
    groups = len(reliability_org.groups)
    slow = FaultRule("slow", path_contains="/members", delay_s=REQUEST_HOLD_S, times=None)
    sim = make_simulator(spec=RELIABILITY_SPEC, faults=Faults(rules=[slow]))
    env = subprocess_env(baseline.home)
    run = CliProcess(baseline.args(sim), env, tmp_path, new_session=True, held="start-up")
    # the listing (one page) and every group's members call have arrived, the run is not built
    reached = run.wait_for(lambda: sim.request_count >= 1 + groups and run.has_line(HELD["start-up"]))
    time.sleep(SIGNAL_LATE_S)
    requests_at_signal = sim.request_count
    os.killpg(run.proc.pid, signal.SIGINT)
    try:
        run.proc.wait(timeout=EXIT_WITHIN_S)
    except subprocess.TimeoutExpired:
        run.proc.kill()
        raise AssertionError(f"still running {EXIT_WITHIN_S} s after SIGINT:\n{''.join(run.lines)}") from None
    code, _out, err = run.finish()
    assert reached, f"the run ended (exit {code}) before its member calls started:\n{err}"

    assert code == 130, err
    assert err.strip().splitlines()[-1] == MESSAGE, err
    assert "Traceback" not in err, err
    assert _group_gone(run.proc.pid), f"processes of group {run.proc.pid} outlived the CLI"
    time.sleep(0.5)
    assert sim.request_count == requests_at_signal, "requests went on after the signal"
    # it was start-up: the raw step, which lists /people, had not begun; no members call answered
    (answered,) = [path for _method, path, _status in sim.requests]
    assert "/groups" in answered and "/members" not in answered, sim.requests
    assert run.lines[-2:] == [HELD["start-up"] + "\n", MESSAGE + "\n"], err
    baseline.assert_unchanged()
    assert _latest_run_status(baseline.home) in (DagsterRunStatus.SUCCESS, DagsterRunStatus.CANCELED)
