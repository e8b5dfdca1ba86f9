"""The CLI starts the member calls before its Dagster run, and the raw step takes them over.

The simulator's answers are timed here (its `_record` hook): a members call answered before the run
started can only come from the member-call process the CLI started before its imports
(`pipelines/xmatters/early_members.py`); before this change the first one came ~1 s after.
In this test process Dagster is already imported, so the CLI's start-up is shorter than the child's
own start: `_start_up_held` holds it (as a real process's imports would) until a members call has
been answered, for at most 10 s: without the early calls none comes, and the run starts first.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from dagster import DagsterInstance, DagsterRunStatus

from orchestration.cli import main
from simulator.faults import FaultRule, Faults
from tests.orchestration.conftest import assert_sync_holds, expected_from_org
from tests.orchestration.test_sync_cli import sync_args


def _timed_answers(sim, monkeypatch) -> list[tuple[float, str]]:
    """(time, path) of each answered request, as the simulator records it."""
    answers: list[tuple[float, str]] = []
    record = sim._record

    def timed(method: str, path: str, status: int) -> None:
        answers.append((time.time(), path))
        record(method, path, status)

    monkeypatch.setattr(sim, "_record", timed)
    return answers


def _start_up_held(monkeypatch, answers: list[tuple[float, str]]) -> None:
    import orchestration.wiring as wiring

    build = wiring.build_definitions

    def held(*args, **kwargs):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any("/members" in path for _, path in answers):
            time.sleep(0.01)
        return build(*args, **kwargs)

    monkeypatch.setattr(wiring, "build_definitions", held)


def _run_started_at(home: Path) -> tuple[float, DagsterRunStatus]:
    with DagsterInstance.from_config(str(home / "dagster")) as instance:
        record = instance.get_run_records(limit=1)[0]
        assert record.start_time is not None
        return record.start_time, record.dagster_run.status


def test_the_member_calls_are_answered_before_the_run_starts_and_the_sync_is_whole(
    make_simulator, org, data_home, tmp_path, capsys, monkeypatch
):
    sim = make_simulator(faults=Faults(latency_s=0.02))
    answers = _timed_answers(sim, monkeypatch)
    _start_up_held(monkeypatch, answers)
    sync_file = tmp_path / "sync.c1z"

    assert main(sync_args(sim, sync_file)) == 0
    err = capsys.readouterr().err

    started_at, status = _run_started_at(data_home)
    assert status == DagsterRunStatus.SUCCESS
    first_members = min(at for at, path in answers if "/members" in path)
    first_people = min(at for at, path in answers if "/people" in path)
    assert first_members < started_at, "no members call was answered before the Dagster run started"
    assert first_members < first_people
    # one `/groups` listing (the early one), loaded and used for the calls: the sync is the org's
    assert_sync_holds(sync_file, expected_from_org(org))
    groups_requests = [path for _, path in answers if re.search(r"/groups\?", path)]
    assert len(groups_requests) == len({path for path in groups_requests}), groups_requests
    # the early listing's requests are counted in the extract's report with the others
    counted = re.search(r"extract: .*; (\d+) requests", err)
    assert counted is not None, err
    assert int(counted.group(1)) == sim.request_count


def test_a_member_call_that_failed_before_the_run_fails_the_raw_step_with_its_error(
    make_simulator, data_home, tmp_path, capsys, monkeypatch
):
    sim = make_simulator(faults=Faults(rules=[FaultRule("status", status=403, path_contains="/members")]))
    answers = _timed_answers(sim, monkeypatch)
    _start_up_held(monkeypatch, answers)
    sync_file = tmp_path / "sync.c1z"

    assert main(sync_args(sim, sync_file)) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]

    started_at, status = _run_started_at(data_home)
    assert min(at for at, path in answers if "/members" in path) < started_at  # failed in start-up
    assert status == DagsterRunStatus.FAILURE
    assert err.startswith("baton-xmatters: error: ")
    assert "HTTP 403 from" in err and "/members" in err, err
    assert sim.password not in err
    assert not sync_file.exists()
