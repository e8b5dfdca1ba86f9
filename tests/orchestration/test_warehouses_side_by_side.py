"""Two warehouses in one directory share dlt's state beside them: their syncs take turns.

Found by hand: `--warehouse dir/a.duckdb` and `--warehouse dir/b.duckdb` synced at once (two
tenants) both failed with dlt's errors (`[Errno 39] Directory not empty: '.../dlt/xmatters/load'`,
`Attempt to import non existing file ...`): each dropped and loaded the other's packages in
`dir/dlt`, and one tenant's package could have been loaded into the other's warehouse.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from orchestration.cli import main
from simulator import XmattersSimulator
from tests.conftest import SMALL_ORG_SPEC, cached_org
from tests.orchestration.test_sync_cli import sync_args

OTHER_TENANT = dataclasses.replace(SMALL_ORG_SPEC, seed=8, people=30, groups=4, large_groups=0)


def raw_people(warehouse: Path) -> set[str]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return {row[0] for row in con.sql("SELECT id FROM xmatters_raw.people").fetchall()}
    finally:
        con.close()


def test_a_sync_beside_a_running_one_waits_its_turn(simulator, data_home, tmp_path, capsys):
    shared = tmp_path / "warehouses"
    other = XmattersSimulator(cached_org(OTHER_TENANT))
    with other:
        other.faults.latency_s = 0.4  # its sync holds the directory for a while
        command = Path(sys.executable).with_name("baton-xmatters")
        env = {**os.environ, "BATON_XMATTERS_HOME": str(data_home)}
        argv = [str(command), *sync_args(other, tmp_path / "b.c1z"), "--warehouse", str(shared / "b.duckdb")]
        running = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 120
            while other.request_count == 0 and running.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert other.request_count > 0, running.communicate()  # past its locks: extracting

            args = [*sync_args(simulator, tmp_path / "a.c1z"), "--warehouse", str(shared / "a.duckdb")]
            assert main(args) == 1
            err = capsys.readouterr().err
            assert err == (
                "baton-xmatters: error: xmatters: another sync or load is using dlt's state in "
                f"{shared / 'dlt'} "
                f"(lock {shared / 'dlt.lock'}), which every warehouse in {shared} shares: try again when it "
                "ends, or keep each warehouse in a directory of its own\n"
            )
            assert simulator.requests == []
            out, err = running.communicate(timeout=300)
        finally:
            if running.poll() is None:
                running.kill()
                running.communicate()
    assert running.returncode == 0, err[-2000:]
    assert raw_people(shared / "b.duckdb") == {p["id"] for p in other.org.people}

    assert main(args) == 0  # its turn
    assert raw_people(shared / "a.duckdb") == {p["id"] for p in simulator.org.people}
    assert raw_people(shared / "b.duckdb") == {p["id"] for p in other.org.people}
