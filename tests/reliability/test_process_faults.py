"""The sync process killed (SIGKILL) at each stage, and two syncs started against one warehouse.

These run the CLI as real processes (`python -m orchestration.cli`, the console script's code) with
the simulator in the test process. A stage is recognised by its progress line on stderr (extract,
transform, write, publish) or, for dlt's load, by a normalized load package appearing on disk. The
write (~25 ms on this org) and publishing (~0.1 s) hold once begun (tests/reliability/held_stage.py),
so a signal or kill read late still lands in them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestration.cli import main
from simulator import Faults, Org, XmattersSimulator
from tests.orchestration.conftest import expected_from_org
from tests.reliability.conftest import (
    RELIABILITY_SPEC,
    Baseline,
    cli_command,
    error_line,
    leftovers_beside,
    published_state,
    subprocess_env,
)
from tests.reliability.held_stage import HELD

DATA_TABLES = ("users", "groups", "entitlements", "grants", "memberships")


@dataclass(frozen=True)
class Stage:
    """When to kill: a stderr line containing `marker`, or `on_disk(home)` turning true."""

    marker: str | None = None
    on_disk: Callable[[Path], bool] | None = None
    latency_s: float = 0.0  # simulator latency, so the extract is still running at its first line
    held: str | None = None  # the run holds once this stage has begun (tests/reliability/held_stage.py)


def _load_package_waiting(home: Path) -> bool:
    normalized = home / "dlt" / "xmatters" / "load" / "normalized"
    try:  # dlt may move the package away between the check and the listing
        return any(normalized.iterdir())
    except FileNotFoundError:
        return False


STAGES = {
    "extract": Stage(marker="extract: reading", latency_s=0.05),
    "load": Stage(on_disk=_load_package_waiting),
    "transform": Stage(marker="transform: c1_staging."),
    # held once begun: each takes less than a loaded machine may take to read its line and signal
    "write": Stage(marker=HELD["write"], held="write"),
    "publish": Stage(marker=HELD["publish"], held="publish"),
}


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

    def wait_for_stage(self, stage: Stage, home: Path) -> bool:
        """Wait until the run reaches `stage` (True) or ends first (False)."""
        if stage.marker is not None:
            marker = stage.marker
            return self.wait_for(lambda: self.has_line(marker))
        assert stage.on_disk is not None
        on_disk = stage.on_disk
        return self.wait_for(lambda: on_disk(home))

    def finish(self) -> tuple[int, str, str]:
        out = self.proc.stdout.read() if self.proc.stdout is not None else ""
        code = self.proc.wait()
        self._reader.join()
        return code, out, "".join(self.lines)


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
) -> None:
    stage = STAGES[stage_name]
    sim = make_simulator(spec=RELIABILITY_SPEC, faults=Faults(latency_s=stage.latency_s))
    env = subprocess_env(baseline.home)
    run = CliProcess(baseline.args(sim), env, tmp_path, held=stage.held)
    reached = run.wait_for_stage(stage, baseline.home)
    if reached:
        os.kill(run.proc.pid, signal.SIGKILL)
    code, _, err = run.finish()
    assert reached, f"the run ended (exit {code}) before reaching {stage_name}:\n{err}"
    assert code == -signal.SIGKILL

    # The previous file is intact; nothing but the writer's known temporary names sits beside it.
    assert baseline.sync_file.read_bytes() == baseline.file_bytes
    for name in leftovers_beside(baseline.sync_file):
        assert name == "sync.c1z.pending" or (name.startswith(".sync.c1z.") and name.endswith("tmp")), name
    # publish: killed in the one publishing transaction, before its commit (held there): gone with it
    assert published_state(baseline.warehouse) == baseline.published

    # The next run (in-process: only the killed one needs a process of its own) succeeds, writes
    # exactly the ground truth and removes what the killed one left beside the target.
    sim.faults.clear()
    code = main(baseline.args(sim))
    out, err = capsys.readouterr()
    baseline.assert_synced(code, err, expected_from_org(reliability_org))
    assert "Synced" in out


def test_two_syncs_at_once_one_fails_clearly(
    baseline: Baseline,
    make_simulator: Callable[..., XmattersSimulator],
    reliability_org: Org,
    tmp_path: Path,
) -> None:
    """The second sync of one warehouse fails at once, before touching anything; the first completes."""
    sim = make_simulator(spec=RELIABILITY_SPEC, faults=Faults(latency_s=0.05))
    env = subprocess_env(baseline.home)
    first = CliProcess(baseline.args(sim), env, tmp_path)
    assert first.wait_for(lambda: first.has_line("extract: reading")), "".join(first.lines)
    second = subprocess.run(
        cli_command(*baseline.args(sim)), env=env, cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert second.returncode == 1, second.stderr
    line = error_line(second.stderr)
    assert "another sync is running against" in line and str(baseline.warehouse) in line
    assert first.proc.poll() is None, "the first sync ended before the second was refused"

    code, _, err = first.finish()
    baseline.assert_synced(code, err, expected_from_org(reliability_org))
    state = published_state(baseline.warehouse)
    assert len(state.tables["sync_runs"]) == len(baseline.published.tables["sync_runs"]) + 1
