"""Path settings as users write them: an empty variable is an unset one, `~` is the home directory.

An empty variable (`export BATON_XMATTERS_HOME=`) is an unset one, as the sync's flags treat it.

`Path("")` is the working directory: an empty BATON_XMATTERS_HOME put the warehouse, dlt state and
Dagster home into whatever directory the command ran in, and an empty BATON_FILE made `inspect`
read `.`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration.cli import main
from orchestration.paths import data_paths, default_sync_file


def test_empty_home_and_file_variables_take_the_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    env = {"BATON_XMATTERS_HOME": "", "BATON_FILE": ""}
    assert data_paths(env).warehouse == tmp_path / "var" / "warehouse.duckdb"
    assert default_sync_file(env) == tmp_path / "sync.c1z"


def test_inspect_with_an_empty_baton_file_reads_sync_c1z(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BATON_FILE", "")
    assert main(["inspect", "stats"]) == 1
    assert capsys.readouterr().err == "baton-xmatters: error: sync.c1z: no such file\n"


def test_a_tilde_is_the_home_directory_in_every_path_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    """A `~` that no shell expanded (an env file, a quoted flag) made a literal `./~` directory for
    BATON_XMATTERS_HOME and --warehouse, while -f/BATON_FILE already expanded it."""
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(cwd)
    assert data_paths({"BATON_XMATTERS_HOME": "~/xm"}).warehouse == home / "xm" / "warehouse.duckdb"
    assert default_sync_file({"BATON_FILE": "~/s.c1z"}) == home / "s.c1z"
    assert main(["sql", "--warehouse", "~/w.duckdb", "SELECT 1"]) == 2
    assert capsys.readouterr().err == f"baton-xmatters: error: no warehouse at {home}/w.duckdb\n"
    assert main(["diff", "--warehouse", "~/w.duckdb"]) == 2
    assert f"no warehouse at {home}/w.duckdb" in capsys.readouterr().err
    assert main(["inspect", "-f", "~/s.c1z", "stats"]) == 1
    assert capsys.readouterr().err == f"baton-xmatters: error: {home}/s.c1z: no such file\n"
    assert list(cwd.iterdir()) == []
