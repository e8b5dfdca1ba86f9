"""ConductorOne's own readers of the `.c1z` (`../shared/interop/baton-cli/`, built from C1's Go code).

`gobaton-read` opens a file with baton-sdk's `dotc1z` reader and runs protoc-gen-validate's
`ValidateAll()` on every resource type, resource, entitlement and grant; `baton` is the real CLI.
Tests skip, saying why, only when the binaries are absent (a clone without `../shared`).
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.orchestration.conftest import data_home  # noqa: F401 - the end-to-end syncs' fixture
from tests.shared_dir import SHARED

BATON_CLI = SHARED / "interop" / "baton-cli"
BATON_COMMANDS = ("stats", "resource-types", "resources", "entitlements", "grants", "syncs")


@dataclass(frozen=True)
class C1Readers:
    baton: Path
    gobaton_read: Path

    def validate(self, c1z: Path) -> tuple[int, dict[str, Any]]:
        """(exit status, JSON report) of `gobaton-read`: 0 = every message validates, no dangling ref."""
        done = subprocess.run(
            [str(self.gobaton_read), "-samples", "0", "-max-failures", "20", str(c1z)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        return done.returncode, json.loads(done.stdout)

    def baton_exit_codes(self, c1z: Path, scratch: Path) -> dict[str, tuple[int, str]]:
        """Every read command of the `baton` CLI -> (exit status, last stderr line)."""
        scratch.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "TMPDIR": str(scratch)}  # baton leaves a decompressed copy per command
        codes = {}
        for command in BATON_COMMANDS:
            done = subprocess.run(
                [str(self.baton), "-f", str(c1z), command, "-o", "json"],
                capture_output=True,
                text=True,
                env=env,
                timeout=300,
            )
            codes[command] = (done.returncode, (done.stderr.strip().splitlines() or [""])[-1])
        return codes


@pytest.fixture(scope="session")
def c1_readers() -> C1Readers:
    readers = C1Readers(BATON_CLI / "baton", BATON_CLI / "gobaton-read")
    for binary in (readers.baton, readers.gobaton_read):
        if not os.access(binary, os.X_OK):
            pytest.skip(
                f"ConductorOne's reader {binary.name} is not at {binary.resolve()} (a clone without "
                "../shared; set BATON_XMATTERS_SHARED to the shared folder to run these tests)"
            )
    return readers
