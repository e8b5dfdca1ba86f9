"""The baton family's conventions: `--version`, and a mistyped command or flag gets a "did you mean"."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from orchestration.cli import SUBCOMMANDS, main

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_version_prints_the_package_version_without_loading_dagster():
    probe = (
        "import sys; from orchestration.cli import main; code = main(['--version']); "
        "print(code, 'dagster' in sys.modules, 'dlt' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.splitlines() == [
        f"baton-xmatters {metadata.version('baton-xmatters')}",
        "0 False False",
    ]
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("word", "message"),
    [
        ("inpsect", "unknown command 'inpsect'; did you mean 'inspect'?"),
        ("simualte", "unknown command 'simualte'; did you mean 'simulate'?"),
        ("dmeo", "unknown command 'dmeo'; did you mean 'demo'?"),
        ("sync", "unknown command 'sync' (commands: demo, diff, inspect, simulate, sql; "),
    ],
)
def test_a_mistyped_command_gets_a_suggestion(capsys, word: str, message: str):
    assert main([word, "-f", "sync.c1z"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"baton-xmatters: error: {message}") and err.count("\n") == 1


def test_flags_still_go_to_the_sync_and_commands_to_their_parser(capsys):
    assert set(SUBCOMMANDS) >= {"demo", "inspect", "simulate", "sql"}
    assert main(["--base-url", "http://127.0.0.1:1/api/xm/1"]) == 2  # the sync's own validation
    assert "missing --username" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["inspect", "nonsense"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'nonsense'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["--usernme", "sim-user"],
            "baton-xmatters: error: unrecognized argument --usernme and 1 word (not shown); "
            "did you mean --username? (see baton-xmatters --help)",
        ),
        (
            ["--pasword=hunter2"],
            "baton-xmatters: error: unrecognized argument --pasword; did you mean --password? "
            "(see baton-xmatters --help)",
        ),
        (
            ["--pass=hunter2"],
            "baton-xmatters: error: ambiguous option: --pass could match --password, --password-file "
            "(see baton-xmatters --help)",
        ),
        (
            ["--log-level", "verbose"],
            "baton-xmatters: error: argument --log-level: invalid choice: 'verbose' "
            "(choose from 'debug', 'info', 'warning', 'error') (see baton-xmatters --help)",
        ),
        (
            ["inspect", "stats", "--fiel", "x.c1z"],
            "baton-xmatters: error: unrecognized argument --fiel and 1 word (not shown); "
            "did you mean --file? (see baton-xmatters inspect --help)",
        ),
        (
            ["diff", "--lats", "2"],
            "baton-xmatters: error: unrecognized argument --lats and 1 word (not shown); "
            "did you mean --last? (see baton-xmatters diff --help)",
        ),
    ],
)
def test_a_mistyped_flag_is_one_line_with_a_suggestion_and_no_value_echoed(capsys, args, line):
    """No 13-line usage block before the error; what followed an unknown flag (a password, after
    `--pasword`) is not printed."""
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", line + "\n")
    assert "hunter2" not in err and "sim-user" not in err
