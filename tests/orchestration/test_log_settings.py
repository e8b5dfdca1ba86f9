"""baton-sdk's log flags and variables: a deployment moved over from C1's Go connector keeps them.

`BATON_LOG_LEVEL` was ignored, `--log-level warn` (zap's name, baton-sdk's documented value) and
`--log-level DEBUG` were refused, and `--log-format json` was an unknown flag.
"""

from __future__ import annotations

import json

import pytest

from orchestration.cli import main
from tests.orchestration.test_sync_cli import sync_args


def test_baton_log_variables_and_zap_names_set_what_the_sync_logs(
    simulator, data_home, tmp_path, capsys, monkeypatch
):
    sync_file = tmp_path / "sync.c1z"
    monkeypatch.setenv("BATON_LOG_LEVEL", "warn")
    assert main(sync_args(simulator, sync_file)) == 0
    out, err = capsys.readouterr()
    assert "Synced" in out
    assert " INFO " not in err and "publish: wrote" not in err

    # the flag wins over the variable, in any case; json: one object per line, zap's keys
    monkeypatch.setenv("BATON_LOG_FORMAT", "json")
    assert main([*sync_args(simulator, sync_file), "--log-level", "Info"]) == 0
    out, err = capsys.readouterr()
    assert "Synced" in out
    records = [json.loads(line) for line in err.splitlines()]
    assert records and all(set(r) == {"level", "ts", "logger", "msg"} for r in records)
    assert {r["level"] for r in records} == {"info"}
    assert any(r["msg"].startswith(f"publish: wrote {sync_file} (") for r in records)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "BATON_LOG_LEVEL",
            "verbose",
            "BATON_LOG_LEVEL 'verbose' is not one of debug, info, warn, warning, error",
        ),
        ("BATON_LOG_FORMAT", "yaml", "BATON_LOG_FORMAT 'yaml' is not one of console, json"),
    ],
)
def test_a_bad_log_variable_is_named_and_nothing_is_requested(
    simulator, data_home, tmp_path, capsys, monkeypatch, variable, value, message
):
    monkeypatch.setenv(variable, value)
    assert main(sync_args(simulator, tmp_path / "sync.c1z")) == 2
    assert capsys.readouterr() == ("", f"baton-xmatters: error: xmatters: {message}\n")
    assert simulator.requests == []
    assert not data_home.exists()


def test_a_bad_log_format_flag_is_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--log-format", "yaml"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == (
        "baton-xmatters: error: argument --log-format: invalid choice: 'yaml' "
        "(choose from 'console', 'json') (see baton-xmatters --help)\n"
    )
