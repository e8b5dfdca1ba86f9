"""What `python -m pipelines.xmatters_pipeline` leaves on disk, and how it fails to open its warehouse.

Run as a user runs it (a subprocess, the user's umask 022, a quoted `~`), against the simulator. It
writes the same warehouse and dlt state as `baton-xmatters` (docs: the same home), so it keeps them
as the CLI does: readable by their owner only, at the path meant, one line when it cannot.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from simulator import OrgSpec, XmattersSimulator, build_org
from tests.held_warehouse import held_open
from tests.xmatters.helpers import PASSWORD, rows

SPEC = OrgSpec(seed=7, people=12, groups=3, members_per_group=3, hidden_people=0, large_groups=0)


@pytest.fixture(scope="module")
def sim() -> Iterator[XmattersSimulator]:
    with XmattersSimulator(build_org(SPEC), password=PASSWORD) as server:
        yield server


def load(
    sim: XmattersSimulator, cwd: Path, *args: str, home: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BATON_", "SOURCES__", "DLT_"))}
    env.update(
        RUNTIME__DLTHUB_TELEMETRY="false",
        HOME=str(home or cwd),
        BATON_BASE_URL=sim.base_url,
        BATON_USERNAME=sim.username,
        BATON_PASSWORD=PASSWORD,
    )
    argv = [sys.executable, "-c", UNDER_UMASK_022, *args]
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


# a login shell's umask, whatever the test runner's
UNDER_UMASK_022 = (
    "import os, runpy, sys; os.umask(0o022); sys.argv[0] = 'xmatters_pipeline'; "
    "runpy.run_module('pipelines.xmatters_pipeline', run_name='__main__')"
)


def test_the_warehouse_and_dlt_state_are_readable_by_their_owner_only(sim, tmp_path):
    """They were 0644 and 0755 (the shell's umask): everyone on the machine could read who has
    access to what, where `baton-xmatters` keeps the same files 0600/0700."""
    done = load(sim, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    home = tmp_path / "var"
    assert rows(home / "warehouse.duckdb", "SELECT count(*) FROM xmatters_raw.people") == [(12,)]
    written = [home, *home.rglob("*")]
    assert len(written) > 5
    loose = {
        str(p.relative_to(tmp_path)): oct(p.stat().st_mode & 0o777)
        for p in written
        if p.stat().st_mode & 0o077
    }
    assert loose == {}
    assert stat.S_IMODE((home / "warehouse.duckdb").stat().st_mode) == 0o600


def test_a_quoted_tilde_is_the_home_directory(sim, tmp_path):
    """`--warehouse '~/w.duckdb'` (an env file, a quoted flag) made a directory named `~` in the
    working directory and ended in dlt's traceback: DuckDB could not open `<somewhere>/~/w.duckdb`."""
    home = tmp_path / "home"
    home.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    done = load(sim, work, "--warehouse", "~/w.duckdb", "--pipelines-dir", "~/dlt", home=home)
    assert done.returncode == 0, done.stderr[-2000:]
    assert rows(home / "w.duckdb", "SELECT count(*) FROM xmatters_raw.groups") == [(3,)]
    assert (home / "dlt" / "xmatters" / "state.json").is_file()
    assert list(work.iterdir()) == []
    assert f"xmatters_raw in {home / 'w.duckdb'}:" in done.stdout


def test_a_warehouse_held_by_another_process_is_one_line(sim, tmp_path):
    """A `duckdb` session (or a sync) holding the file: dlt's 60-line traceback, ending in DuckDB's
    advice to open the file read-only, which a load cannot."""
    warehouse = tmp_path / "var" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    duckdb.connect(str(warehouse)).close()
    before = warehouse.read_bytes()
    with held_open(warehouse) as holder:
        requests_before = len(sim.requests)
        done = load(sim, tmp_path)
    assert done.returncode == 1
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith(
        f"xmatters_pipeline: error: the warehouse {warehouse} is open in another process (PID {holder.pid}, "
    )
    assert "read-only mode" not in line and "Traceback" not in done.stderr
    assert len(sim.requests) == requests_before  # refused before the extract
    assert warehouse.read_bytes() == before
