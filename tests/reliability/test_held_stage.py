"""held_stage.py fails loudly rather than letting a signal case pass unheld.

A held case signals once its stage's `HELD` line is on stderr; if a patched function were renamed,
or no longer called, that line would never come and the case would fail saying the run ended
before the stage, with nothing naming the cause. These check the two loud failures themselves.
"""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import pytest

from tests.reliability.conftest import REPO_ROOT
from tests.reliability.held_stage import HELD, NOT_HELD_EXIT, STAGES, patch


def test_a_renamed_patch_target_stops_the_run_naming_it() -> None:
    owner = SimpleNamespace(__name__="pipelines.c1z.writer", write_c1z_renamed=lambda: None)
    with pytest.raises(SystemExit, match=r"pipelines\.c1z\.writer\.write_c1z not found \(renamed\?\)"):
        patch(owner, "write_c1z", lambda original: original)


@pytest.mark.parametrize("stage", STAGES)
def test_a_run_that_never_reaches_its_hold_fails(stage: str) -> None:
    """`--help` ends the CLI before any stage: exit `NOT_HELD_EXIT`, saying so, not 0. Also checks
    that every name the stage patches exists (else the exit names it instead)."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.reliability.held_stage", stage, "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == NOT_HELD_EXIT, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"held_stage: the run ended without reaching the {stage} hold (function no longer called?)"
    )
    assert HELD[stage] not in done.stderr
