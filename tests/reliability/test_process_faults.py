"""The sync process killed (SIGKILL) at each stage (then the next sync, of the same org or of a
changed one), and two syncs started against one warehouse.

These run the CLI as real processes (`python -m orchestration.cli`, the console script's code) with
the simulator in the test process. On the reliability org every stage is shorter than a loaded
machine may take to read a progress line and signal, so each case holds the run in its stage until
the signal: the extract waits for `/people` pages the simulator holds back (`REQUEST_HOLD_S`), the
other stages hold in the CLI itself once begun (tests/reliability/held_stage.py). A case then checks
that the signal found the run still held (`assert_signalled_while_held`), so a hold that no longer
holds fails the case instead of testing the next stage.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest

from orchestration.cli import main
from pipelines.c1z.reader import open_c1z
from pipelines.xmatters.settings import PIPELINE_NAME
from simulator import FaultRule, Faults, Org, XmattersSimulator
from tests.orchestration.conftest import expected_from_org, raw_rows
from tests.reliability.conftest import (
    RELIABILITY_SPEC,
    Baseline,
    cli_command,
    error_line,
    leftovers_beside,
    published_state,
    subprocess_env,
)
from tests.reliability.held_stage import HELD, RELEASE_ENV
from tests.shared_dir import SHARED

DATA_TABLES = ("users", "groups", "entitlements", "grants", "memberships")
# How long the simulator holds back the `/people` pages after the first: far beyond any test's wait
# for the signal, below the client's 30 s timeout (the held request is neither retried nor failed).
REQUEST_HOLD_S = 20.0
# A signal sent this much later than the stage was seen (a loaded machine, simulated; 0 normally).
SIGNAL_LATE_S = float(os.environ.get("RELIABILITY_SIGNAL_LATE_S", "0"))


@dataclass(frozen=True)
class Stage:
    """When to signal: once the stderr line `marker` is there (and any held request has arrived).

    `held`: the run holds once this stage has begun (tests/reliability/held_stage.py);
    `held_path`: the simulator holds the requests to this path after the first one.
    """

    marker: str
    held: str | None = None
    held_path: str | None = None

    def faults(self, latency_s: float = 0.0) -> Faults:
        """The simulator's faults for this stage: `latency_s` on every request, the hold if any."""
        faults = Faults(latency_s=latency_s)
        if self.held_path is not None:
            path, hold_s = self.held_path, REQUEST_HOLD_S
            faults.add(FaultRule("slow", path_contains=path, after=1, times=None, delay_s=hold_s))
        return faults


STAGES = {
    # extracting: the `/people` listing waits for its later pages, held back by the simulator
    "extract": Stage(marker="extract: reading", held_path="/people"),
    # dlt's load: the rows in the raw tables, the package not completed
    "load": Stage(marker=HELD["load"], held="load"),
    # the first `c1_staging` table built, the next one not
    "transform": Stage(marker=HELD["transform"], held="transform"),
    "write": Stage(marker=HELD["write"], held="write"),
    "publish": Stage(marker=HELD["publish"], held="publish"),
}


def _held_requests_arrived(sim: XmattersSimulator) -> bool:
    return all(rule.fired > 0 for rule in sim.faults.rules if rule.kind == "slow")


def assert_signalled_while_held(stage: Stage, run: CliProcess, sim: XmattersSimulator, *after: str) -> None:
    """The run ended where it was held, `after` being all it said since (the interrupt's line, or
    nothing when killed): the signal landed in the stage, not after a hold that no longer holds."""
    err = "".join(run.lines)
    if stage.held_path is not None:
        # no held page was answered before the exit: the listing, so the extract, was not done
        answered = [path for _method, path, _status in sim.requests if stage.held_path in path]
        assert len(answered) == 1, (answered, err)
        return
    lines = [line.rstrip("\n") for line in run.lines]
    assert stage.marker in lines, err
    assert lines[lines.index(stage.marker) + 1 :] == list(after), err


class CliProcess:
    """A CLI sync in a child process, its stderr collected line by line on a thread."""

    def __init__(
        self,
        args: list[str],
        env: dict[str, str],
        cwd: Path,
        *,
        new_session: bool = False,
        held: str | None = None,
    ) -> None:
        """`new_session`: the CLI leads a process group of its own, as a terminal's foreground job does;
        `held`: the stage at which the run holds (see `cli_command`)."""
        self.lines: list[str] = []
        self._seen = threading.Condition()
        self.proc = subprocess.Popen(
            cli_command(*args, held=held),
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=new_session,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._seen:
                self.lines.append(line)
                self._seen.notify_all()

    def has_line(self, marker: str) -> bool:
        with self._seen:
            return any(marker in line for line in self.lines)

    def wait_for(self, ready: Callable[[], bool]) -> bool:
        """Poll until `ready()` or the process ends; True when ready came first."""
        while self.proc.poll() is None:
            if ready():
                return True
            with self._seen:
                self._seen.wait(0.005)
        return ready()

    def wait_for_stage(self, stage: Stage, sim: XmattersSimulator) -> bool:
        """Wait until the run reaches `stage` (True) or ends first (False); then `SIGNAL_LATE_S`."""
        reached = self.wait_for(lambda: self.has_line(stage.marker) and _held_requests_arrived(sim))
        time.sleep(SIGNAL_LATE_S)
        return reached

    def finish(self) -> tuple[int, str, str]:
        out = self.proc.stdout.read() if self.proc.stdout is not None else ""
        code = self.proc.wait()
        self._reader.join()
        return code, out, "".join(self.lines)


def kill_held_sync(
    stage_name: str, baseline: Baseline, make_simulator: Callable[..., XmattersSimulator], tmp_path: Path
) -> XmattersSimulator:
    """A CLI sync of the baseline's home SIGKILLed once held in the stage; its simulator, to go on.

    Asserts the kill landed in the stage: nothing said after the stage's line."""
    stage = STAGES[stage_name]
    sim = make_simulator(spec=RELIABILITY_SPEC, faults=stage.faults())
    run = CliProcess(baseline.args(sim), subprocess_env(baseline.home), tmp_path, held=stage.held)
    reached = run.wait_for_stage(stage, sim)
    if reached:
        os.kill(run.proc.pid, signal.SIGKILL)
    code, _, err = run.finish()
    assert reached, f"the run ended (exit {code}) before reaching {stage_name}:\n{err}"
    assert code == -signal.SIGKILL, err
    assert_signalled_while_held(stage, run, sim)
    return sim


def copy_of_killed(baseline: Baseline, root: Path) -> Baseline:
    """The killed run's home and target directory (with what it left beside the file) copied under
    `root`, as they are on disk: a second next sync from the same kill. The copy keeps the
    baseline's source, so no write to its warehouse comes between the kill and that sync."""
    home, out = root / "home", root / "out"
    shutil.copytree(baseline.home, home, symlinks=True)
    shutil.copytree(baseline.sync_file.parent, out, symlinks=True)
    return Baseline(
        home, out / baseline.sync_file.name, baseline.file_bytes, baseline.published, baseline.source
    )


# One killed sync per stage, then two next syncs from it: of the same org (on a copy of what the
# kill left) and of a changed one. Each next sync starts from exactly the killed state; the kill,
# a process with Dagster's imports and a run up to the stage, is paid once per stage.
# The fixture list of test_interrupts.py's and test_fault_matrix.py's row tests (`duplicates` pairs
# the signatures): pytest injects fixtures by parameter name, so each test lists the ones it uses.
@pytest.mark.parametrize("stage_name", list(STAGES))
def test_sigkill_at_stage_loses_nothing(
    stage_name: str,
    baseline: Baseline,
    make_simulator: Callable[..., XmattersSimulator],
    reliability_org: Org,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Killed in a stage: nothing lost, and the next sync of the same org, or of a changed one, holds
    exactly that org (`next_sync_of_the_same_org`, `next_sync_of_a_changed_org`)."""
    sim = kill_held_sync(stage_name, baseline, make_simulator, tmp_path)
    same_org = copy_of_killed(baseline, tmp_path / "same-org")
    next_sync_of_the_same_org(same_org, sim, reliability_org, capsys, monkeypatch)
    monkeypatch.setenv("BATON_XMATTERS_HOME", str(baseline.home))
    next_sync_of_a_changed_org(stage_name, baseline, sim, reliability_org, capsys)


def next_sync_of_the_same_org(
    killed: Baseline,
    sim: XmattersSimulator,
    org: Org,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The kill lost nothing, and the next sync of the unchanged org writes its ground truth."""
    # The previous file is intact; nothing but the writer's known temporary names sits beside it.
    assert killed.sync_file.read_bytes() == killed.file_bytes
    for name in leftovers_beside(killed.sync_file):
        assert name == "sync.c1z.pending" or (name.startswith(".sync.c1z.") and name.endswith("tmp")), name
    # publish: killed in the one publishing transaction, before its commit (held there): gone with it
    assert published_state(killed.warehouse) == killed.published

    # The next run (in-process: only the killed one needs a process of its own) succeeds, writes
    # exactly the ground truth and removes what the killed one left beside the target.
    monkeypatch.setenv("BATON_XMATTERS_HOME", str(killed.home))
    sim.faults.clear()
    code = main(killed.args(sim))
    out, err = capsys.readouterr()
    killed.assert_synced(code, err, expected_from_org(org))
    assert "Synced" in out


def test_two_syncs_at_once_one_fails_clearly(
    baseline: Baseline,
    make_simulator: Callable[..., XmattersSimulator],
    reliability_org: Org,
    tmp_path: Path,
) -> None:
    """The second sync of one warehouse fails at once, before touching anything; the first completes.

    The first holds in its transform (held_stage.py) until the second was refused, then goes on.
    """
    sim = make_simulator(spec=RELIABILITY_SPEC)
    env = subprocess_env(baseline.home)
    release = tmp_path / "release-the-first"
    first = CliProcess(
        baseline.args(sim), {**env, RELEASE_ENV: str(release)}, tmp_path, held=STAGES["transform"].held
    )
    assert first.wait_for(lambda: first.has_line(HELD["transform"])), "".join(first.lines)
    second = subprocess.run(
        cli_command(*baseline.args(sim)), env=env, cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert second.returncode == 1, second.stderr
    line = error_line(second.stderr)
    assert "another sync is running against" in line and str(baseline.warehouse) in line
    assert first.proc.poll() is None, "the first sync ended before the second was refused"
    release.touch()

    code, _, err = first.finish()
    baseline.assert_synced(code, err, expected_from_org(reliability_org))
    state = published_state(baseline.warehouse)
    assert len(state.tables["sync_runs"]) == len(baseline.published.tables["sync_runs"]) + 1


def test_two_warehouses_syncing_into_one_file_the_second_fails_clearly(
    baseline: Baseline,
    make_simulator: Callable[..., XmattersSimulator],
    reliability_org: Org,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Two data homes (two tenants) and one `-f`: the second stops at once, before any request.

    They wrote the one `<file>.pending`, each removed the other's as stale, and one renamed the
    other's file into place: a sync reported failed whose warehouse had published, and a summary
    naming a sync the file did not hold (orchestration/sync_file_lock.py).
    """
    sim = make_simulator(spec=RELIABILITY_SPEC)
    release = tmp_path / "release-the-first"
    first = CliProcess(
        baseline.args(sim),
        {**subprocess_env(baseline.home), RELEASE_ENV: str(release)},
        tmp_path,
        held=STAGES["transform"].held,
    )
    assert first.wait_for(lambda: first.has_line(HELD["transform"])), "".join(first.lines)
    requests_before = sim.request_count
    other_home = tmp_path / "other-home"
    monkeypatch.setenv("BATON_XMATTERS_HOME", str(other_home))
    code = main(baseline.args(sim))
    _, err = capsys.readouterr()
    assert code == 1, err
    line = error_line(err)
    assert line == (
        f"baton-xmatters: error: xmatters: another sync is writing {baseline.sync_file} (from another "
        "warehouse); try again when it ends, or give each warehouse its own -f/--file"
    )
    assert sim.request_count == requests_before
    assert not (other_home / "warehouse.duckdb").exists()
    assert baseline.sync_file.read_bytes() == baseline.file_bytes
    assert first.proc.poll() is None, "the first sync ended before the second was refused"
    release.touch()

    code, _, err = first.finish()
    baseline.assert_synced(code, err, expected_from_org(reliability_org))
    state = published_state(baseline.warehouse)
    assert len(state.tables["sync_runs"]) == len(baseline.published.tables["sync_runs"]) + 1


def org_b(org_a: Org) -> tuple[Org, dict[str, str]]:
    """Org A after an administrator's edits: a person and a group each replaced (one removed, one
    added), and one more membership removed and one added (of people who stay). Returns B and the
    ids of A it no longer has, by kind, so a case can name what must be gone."""
    person = org_a.people[0]["id"]
    group = next(g["id"] for g in org_a.groups[1:] if org_a.members[g["id"]])
    other_group = next(g["id"] for g in org_a.groups if g["id"] != group and org_a.members[g["id"]])
    in_other = {m["member"]["id"] for m in org_a.members[other_group]}
    memberships = sorted(org_a.person_memberships())
    leaver = next(pid for gid, pid in memberships if gid == other_group and pid != person)
    joiner = next(p["id"] for p in org_a.people[1:] if p["id"] not in in_other)
    b = org_a.with_changes(
        replace=[person, group],
        remove_members=[(other_group, leaver)],
        add_members=[(other_group, joiner)],
    )
    return b, {"person": person, "group": group, "membership": f"group:{other_group}:member:user:{leaver}"}


def c1z_ids(path: Path) -> dict[str, list[str]]:
    """Every user, group, entitlement and grant id of the `.c1z` (the project's reader), duplicates kept."""
    with open_c1z(path) as reader:
        return {
            "users": sorted(r.id.resource for r in reader.resources("user")),
            "groups": sorted(r.id.resource for r in reader.resources("group")),
            "entitlements": sorted(e.id for e in reader.entitlements()),
            "grants": sorted(g.id for g in reader.grants()),
        }


def published_ids(warehouse: Path) -> dict[str, list[str]]:
    """The ids of the published `c1` tables, duplicates kept."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return {
            name: [row[0] for row in con.sql(f"SELECT {column} FROM c1.{name} ORDER BY 1").fetchall()]
            for name, column in (
                ("users", "user_id"),
                ("groups", "group_id"),
                ("entitlements", "entitlement_id"),
                ("grants", "grant_id"),
            )
        }
    finally:
        con.close()


def gobaton_read(path: Path) -> dict[str, Any]:
    """ConductorOne's `dotc1z` reader's report of the file (`gobaton-read`, exit 0: it validates)."""
    binary = SHARED / "interop" / "baton-cli" / "gobaton-read"
    if not os.access(binary, os.X_OK):
        pytest.skip(f"ConductorOne's reader is not at {binary} (a clone without ../shared)")
    done = subprocess.run(
        [str(binary), "-samples", "0", "-max-failures", "20", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def left_behind(baseline: Baseline) -> dict[str, bool]:
    """What a killed run left that a next run might reuse: dlt's unfinished package (a load not
    completed: dlt's `Pipeline.run` loads such packages instead of extracting, unless they are
    dropped first), or files beside the target (the writer's scratch database, `<file>.pending`)."""
    pipeline = dlt.attach(pipeline_name=PIPELINE_NAME, pipelines_dir=str(baseline.home / "dlt"))
    return {
        "dlt package": pipeline.has_pending_data,
        "beside the target": bool(leftovers_beside(baseline.sync_file)),
    }


# What each stage's kill leaves, checked so a case cannot pass with nothing there to reuse. The
# extract's package is not committed yet, and the transform leaves the raw and `c1_staging` tables
# (already there from the previous sync, so not told apart here).
LEFT_BEHIND = {
    "extract": set(),
    "load": {"dlt package"},
    "transform": set(),
    "write": {"beside the target"},
    "publish": {"beside the target"},
}


def next_sync_of_a_changed_org(
    stage_name: str,
    baseline: Baseline,
    sim: XmattersSimulator,
    reliability_org: Org,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Killed in a stage, then the org changes: the next sync holds the new org, nothing of the old.

    Against an unchanged org a next sync that reused what the killed one left (dlt's pending
    package, the raw or staging tables, the scratch database, `.pending`) would pass unseen; here
    A's removed person, group and membership must be gone and B's new ones there, once each. In
    the load case the raw asset aborts the killed run's package (`loader.abort_pending_packages`;
    dagster-dlt's own drop disabled: `tests/orchestration/test_raw_pending_package.py`), else the
    next sync would load it instead of extracting, and fail.
    """
    assert {what for what, there in left_behind(baseline).items() if there} == LEFT_BEHIND[stage_name]

    b, removed = org_b(reliability_org)
    sim.faults.clear()
    sim.serve(b)
    code = main(baseline.args(sim))
    out, err = capsys.readouterr()
    expected = expected_from_org(b)
    baseline.assert_synced(code, err, expected)  # exit 0, the .c1z's sets, nothing beside it
    assert "Synced" in out
    assert removed["person"] not in expected.users and b.replaced_id(removed["person"]) in expected.users
    assert removed["group"] not in expected.groups and b.replaced_id(removed["group"]) in expected.groups
    assert removed["membership"] not in expected.grants

    # each id once, in the .c1z and in the published tables
    want = {
        "users": sorted(expected.users),
        "groups": sorted(expected.groups),
        "entitlements": sorted(expected.entitlements),
        "grants": sorted(expected.grants),
    }
    assert c1z_ids(baseline.sync_file) == want
    assert published_ids(baseline.warehouse) == want
    report = gobaton_read(baseline.sync_file)
    assert report["validation_failure_count"] == 0, report
    assert report["dangling_references"] == {}, report
    assert len(report["syncs"]) == 1, report  # the new sync alone, not one of the killed run's
    counts = (report["resources_per_type"], report["entitlements"], report["grants"])
    assert counts == (
        {"user": len(want["users"]), "group": len(want["groups"])},
        len(want["entitlements"]),
        len(want["grants"]),
    )

    # the raw tables hold B's rows once each
    raw = raw_rows(baseline.warehouse)
    assert raw["people"] == sorted((p["id"],) for p in b.people)
    assert raw["groups"] == sorted((g["id"],) for g in b.groups)
    assert raw["members"] == sorted(b.person_memberships())
    assert raw["all_members"] == [(b.membership_rows(),)]
