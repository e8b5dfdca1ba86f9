"""`baton-xmatters demo` keeps to its own data directory and prints hints that work as printed.

The demo used to sync its synthetic tenant into `var/warehouse.duckdb`: a real warehouse's published
tables and history would have been replaced by fake people.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
from pathlib import Path

import duckdb
import pytest

from orchestration.cli import main
from orchestration.demo_command import add_demo_arguments, demo_spec, run_demo
from simulator.org import OrgSpec
from tests.orchestration.test_sync_cli import sync_args


def snapshot(directory: Path, skip: Path) -> dict[str, tuple[bytes, int]]:
    """Every file's bytes and modification time, except under `skip`."""
    return {
        str(path.relative_to(directory)): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(directory.rglob("*"))
        if path.is_file() and skip not in path.parents
    }


def test_a_demo_leaves_the_real_warehouse_and_history_untouched(
    simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    real_home = tmp_path / "var"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BATON_XMATTERS_HOME", str(real_home))  # as a user's shell might have them
    monkeypatch.setenv("DAGSTER_HOME", str(real_home / "dagster"))
    assert main(sync_args(simulator, tmp_path / "sync.c1z")) == 0  # the real warehouse, with history
    assert (real_home / "warehouse.duckdb").is_file() and (real_home / "dagster").is_dir()
    before = snapshot(real_home, skip=real_home / "demo")
    capsys.readouterr()

    assert main(["demo", "--people", "40", "--groups", "5", "--log-level", "warning"]) == 0
    out = capsys.readouterr().out

    assert snapshot(real_home, skip=real_home / "demo") == before
    demo = real_home / "demo"
    for name in ("warehouse.duckdb", "demo.c1z", "dagster/dagster.yaml", "dlt"):
        assert (demo / name).exists(), name
    with duckdb.connect(str(demo / "warehouse.duckdb"), read_only=True) as con:
        assert con.sql("SELECT count(*) FROM c1.sync_runs").fetchall() == [(1,)]
        # the tenant asked for: 40 people and the default 5 outside the API account's scope
        assert con.sql("SELECT visible, count(*) FROM c1.users GROUP BY 1 ORDER BY 1").fetchall() == [
            (False, 5),
            (True, 40),
        ]

    # the hints are full paths: they run as printed, without an activated venv
    hints = [line.strip() for line in out.splitlines() if "/baton-xmatters " in line]
    assert [shlex.split(h)[1] for h in hints] == ["inspect", "sql", "diff"]
    for hint in hints:
        argv = shlex.split(hint)
        assert Path(argv[0]).is_absolute()
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd="/")
        assert result.returncode == 0, result.stderr
        expected = {"inspect": "user ", "sql": "(5 rows)", "diff": "first published sync"}[argv[1]]
        assert expected in result.stdout
    # `make ui` from anywhere: the hint names the checkout's Makefile (from /, `make ui` found none)
    root = Path(__file__).resolve().parents[2]
    [ui_hint] = [line.strip() for line in out.splitlines() if " ui BATON_XMATTERS_HOME=" in line]
    argv = shlex.split(ui_hint.split("   (")[0])
    assert argv == ["make", "-C", str(root), "ui", f"BATON_XMATTERS_HOME={demo}"]
    dry_run = subprocess.run(
        [*argv[:4], "-n", *argv[4:]], capture_output=True, text=True, timeout=60, cwd="/"
    )
    assert dry_run.returncode == 0 and "dagster dev" in dry_run.stdout, dry_run.stderr


def test_the_demo_writes_elsewhere_only_when_told(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    warehouse, sync_file = tmp_path / "mine" / "w.duckdb", tmp_path / "mine" / "d.c1z"
    argv = ["demo", "--people", "30", "--groups", "3", "--log-level", "warning"]
    assert main([*argv, "--warehouse", str(warehouse), "-f", str(sync_file)]) == 0
    assert warehouse.is_file() and sync_file.is_file()
    assert not (tmp_path / "var" / "demo" / "warehouse.duckdb").exists()
    assert (tmp_path / "var" / "demo" / "dagster").is_dir()  # the run history stays the demo's


def test_a_negative_size_is_one_line_naming_the_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """Was a ValueError traceback naming `OrgSpec.people`; nothing is started or written."""
    home = tmp_path / "demo"
    parser = argparse.ArgumentParser()  # run_demo, not main: main would point logging at capsys's stream
    add_demo_arguments(parser)
    assert run_demo(parser.parse_args(["--people", "-1", "--home", str(home)])) == 2
    assert capsys.readouterr() == ("", "baton-xmatters: error: --people must be >= 0, got -1\n")
    assert not home.exists()


def test_a_demo_of_no_people_has_no_hidden_people():
    """`demo --people 0` announced "0 people, +5 outside the API account's scope"."""
    assert demo_spec(0, 3, seed=1).hidden_people == 0
    assert demo_spec(40, 3, seed=1).hidden_people == OrgSpec().hidden_people
