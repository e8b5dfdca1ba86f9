"""An empty variable (`export BATON_XMATTERS_HOME=`) is an unset one, as the sync's flags treat it.

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
