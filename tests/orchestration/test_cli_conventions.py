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
        (  # no prefix of a flag is taken (baton's pflag has none); the value is not echoed
            ["--pass=hunter2"],
            "baton-xmatters: error: unrecognized argument --pass; did you mean --password? "
            "(see baton-xmatters --help)",
        ),
        (
            ["--conc", "0"],
            "baton-xmatters: error: unrecognized argument --conc and 1 word (not shown); "
            "did you mean --concurrency? (see baton-xmatters --help)",
        ),
        (
            ["inspect", "stats", "--fil", "x.c1z"],
            "baton-xmatters: error: unrecognized argument --fil and 1 word (not shown); "
            "did you mean --file? (see baton-xmatters inspect --help)",
        ),
        (
            ["--log-level", "verbose"],
            "baton-xmatters: error: argument --log-level: invalid choice: 'verbose' "
            "(choose from 'debug', 'info', 'warn', 'warning', 'error') (see baton-xmatters --help)",
        ),
        (
            ["inspect", "stats", "--fiel", "x.c1z"],
            "baton-xmatters: error: unrecognized argument --fiel and 1 word (not shown); "
            "did you mean --file? (see baton-xmatters inspect --help)",
        ),
        (
            ["inspect", "stats", "/home/me/sync.c1z"],
            "baton-xmatters: error: unrecognized: 1 word (not shown); name the file with -f FILE "
            "(see baton-xmatters inspect --help)",
        ),
        (
            ["--base-url", "http://127.0.0.1:1/api/xm/1", "sync.c1z"],
            "baton-xmatters: error: unrecognized: 1 word (not shown); name the file with -f FILE "
            "(see baton-xmatters --help)",
        ),
        (  # the word after the unknown flag landed on `inspect`'s listing: "invalid choice: 'hunter2'"
            ["inspect", "--pasword", "hunter2", "stats"],
            "baton-xmatters: error: unrecognized argument --pasword and 1 word (not shown) "
            "(see baton-xmatters inspect --help)",
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


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--base-url", ""], "--base-url is empty (leave it out to use $BATON_BASE_URL)"),
        (["--username", ""], "--username is empty (leave it out to use $BATON_USERNAME)"),
        (["--password-file", ""], "--password-file is empty (leave it out to use $BATON_PASSWORD_FILE)"),
        (["--ca-bundle", ""], "--ca-bundle is empty (leave it out to use $BATON_CA_BUNDLE or the default)"),
        (["-f", ""], "-f/--file is empty (leave it out to use $BATON_FILE or the default)"),
        (["--timeout", ""], "--timeout is empty (leave it out to use the default)"),
        (["--client-id", ""], "--client-id is empty (leave it out to use $BATON_CLIENT_ID or the default)"),
        # blank: `--base-url "  "` was `missing --base-url (or BATON_BASE_URL)` with BATON_BASE_URL
        # set, and `-f " "` wrote a file named " "
        (["--base-url", "  "], "--base-url is blank (leave it out to use $BATON_BASE_URL)"),
        (["-f", " "], "-f/--file is blank (leave it out to use $BATON_FILE or the default)"),
        (["--username", "\t"], "--username is blank (leave it out to use $BATON_USERNAME)"),
    ],
)
def test_an_explicitly_empty_flag_is_refused_not_replaced_by_its_variable(
    capsys, monkeypatch, tmp_path, args, named
):
    """`--base-url ""` (a shell variable that was not set) silently synced BATON_BASE_URL's tenant."""
    monkeypatch.setenv("BATON_XMATTERS_HOME", str(tmp_path / "home"))
    for name, value in {
        "BATON_BASE_URL": "http://127.0.0.1:9/api/xm/1",
        "BATON_USERNAME": "env-user",
        "BATON_PASSWORD": "env-secret",
        "BATON_FILE": str(tmp_path / "env.c1z"),
    }.items():
        monkeypatch.setenv(name, value)
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"baton-xmatters: error: xmatters: {named}\n")
    assert not (tmp_path / "home").exists()
    assert not (Path.cwd() / " ").exists()


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("BATON_FILE", " ", "BATON_FILE is blank (give -f/--file, or unset it to use the default)"),
        ("BATON_BASE_URL", "  ", "BATON_BASE_URL is blank (set it, or give --base-url)"),
        ("BATON_USERNAME", "\t", "BATON_USERNAME is blank (set it, or give --username)"),
    ],
)
def test_a_blank_variable_is_refused_naming_it(capsys, monkeypatch, tmp_path, variable, value, named):
    """`BATON_FILE=" "` synced into a file named " " in the working directory, and the warehouse
    recorded `<cwd>/ ` as the sync file; `BATON_USERNAME=" "` was sent as the user name (HTTP 401)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BATON_XMATTERS_HOME", str(tmp_path / "home"))
    for name, setting in {
        "BATON_BASE_URL": "http://127.0.0.1:9/api/xm/1",
        "BATON_USERNAME": "env-user",
        "BATON_PASSWORD": "env-secret",
        "BATON_FILE": str(tmp_path / "env.c1z"),
    }.items():
        monkeypatch.setenv(name, setting)
    monkeypatch.setenv(variable, value)
    assert main(["--max-attempts", "1"]) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"baton-xmatters: error: xmatters: {named}\n")
    assert not (tmp_path / "home").exists()
    assert not (tmp_path / " ").exists()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:99999/api/xm/1", "port out of range 0-65535"),
        ("http://127.0.0.1:-1/api/xm/1", "port could not be cast to integer value as '-1'"),
        ("http://127.0.0.1:abc/api/xm/1", "port could not be cast to integer value as 'abc'"),
        ("http://[::1/api/xm/1", "invalid IPv6 URL"),
        # Python quotes the netloc here, user info and all: the reason is left out
        ("http://u:s3cret\uff03@host/api/xm/1", None),
    ],
)
def test_an_unparsable_base_url_says_what_is_wrong(capsys, url, reason):
    """It said only `--base-url is not a valid URL`, leaving the user to guess which part."""
    assert main(["--base-url", url, "--username", "u", "--password", "p"]) == 2
    shown = f": {reason}" if reason else ""
    err = capsys.readouterr().err
    assert err == f"baton-xmatters: error: xmatters: --base-url is not a valid URL{shown}\n"
    assert "s3cret" not in err


@pytest.mark.parametrize(
    "args", [["--warehouse", " "], ["sql", "--warehouse", "\t", "SELECT 1"], ["demo", "--home", "  "]]
)
def test_a_blank_path_flag_is_refused_as_an_empty_one(capsys, args):
    """`--warehouse " "` synced into a warehouse file named " " in the working directory."""
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    flag = next(a for a in args if a.startswith("--"))
    command = f"baton-xmatters {args[0]}" if not args[0].startswith("-") else "baton-xmatters"
    assert capsys.readouterr().err == (
        f"baton-xmatters: error: argument {flag}: is blank (leave it out to use the default) "
        f"(see {command} --help)\n"
    )


def test_an_empty_warehouse_flag_is_refused_by_every_command(capsys):
    for command in ([], ["sql", "SELECT 1"], ["diff"]):
        with pytest.raises(SystemExit) as exit_info:
            main([*command, "--warehouse", ""])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert (
            err.startswith("baton-xmatters: error: argument --warehouse: is empty") and err.count("\n") == 1
        )


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["inspect", "-f", "", "stats"], "-f/--file"),
        (["inspect", "--sync-id", "", "stats"], "--sync-id"),
        (["inspect", "--resource-type", "", "resources"], "-t/--resource-type"),
        (["diff", "--since", ""], "--since"),
        (["demo", "--home", ""], "--home"),
        (["demo", "-f", ""], "-f/--file"),
        (["demo", "--warehouse", ""], "--warehouse"),
        (["simulate", "--host", ""], "--host"),
        (["simulate", "--username", ""], "--username"),
        (["simulate", "--password", ""], "--password"),
    ],
)
def test_an_empty_flag_of_a_command_is_one_line_and_exit_2(tmp_path, args, flag):
    """As the sync's flags: `inspect -f ""` read `.`, `demo --home ""` synced into the working
    directory, `simulate --host ""` listened on every interface, `--sync-id ""` looked for a sync
    with no id. Run as a user runs them, from an empty directory that stays empty."""
    command = Path(sys.executable).with_name("baton-xmatters")
    done = subprocess.run(
        [str(command), *args], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"baton-xmatters: error: argument {flag}: is empty (leave it out to use the default) "
        f"(see baton-xmatters {args[0]} --help)\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_an_empty_variable_counts_as_unset(capsys, monkeypatch):
    """`export BATON_BASE_URL=` is no base URL: the message of a missing one, as in baton."""
    monkeypatch.setenv("BATON_BASE_URL", "")
    monkeypatch.setenv("BATON_USERNAME", "u")
    monkeypatch.setenv("BATON_PASSWORD", "p")
    assert main([]) == 2
    assert (
        capsys.readouterr().err == "baton-xmatters: error: xmatters: missing --base-url (or BATON_BASE_URL)\n"
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("BATON_CA_BUNDLE", "/nonexistent", "BATON_CA_BUNDLE '/nonexistent' is not a readable file"),
        ("BATON_BASE_URL", "ftp://x/api/xm/1", "BATON_BASE_URL 'ftp://x/api/xm/1' must start with https://"),
        (
            "BATON_BASE_URL",
            "https://x.example.com/api/v2",
            "BATON_BASE_URL 'https://x.example.com/api/v2' must end",
        ),
    ],
)
def test_a_bad_value_from_a_variable_is_named_by_that_variable(capsys, monkeypatch, variable, value, message):
    """`BATON_CA_BUNDLE=/nonexistent` was reported as `--ca-bundle`, a flag the user never typed."""
    monkeypatch.setenv("BATON_BASE_URL", "https://x.example.com/api/xm/1")
    monkeypatch.setenv("BATON_USERNAME", "u")
    monkeypatch.setenv("BATON_PASSWORD", "p")
    monkeypatch.setenv(variable, value)
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"baton-xmatters: error: xmatters: {message}") and err.count("\n") == 1
    # the same value typed as the flag is named by the flag
    flag = "--" + variable.removeprefix("BATON_").lower().replace("_", "-")
    monkeypatch.delenv(variable)
    assert main([flag, value]) == 2
    assert capsys.readouterr().err.startswith(f"baton-xmatters: error: xmatters: {flag} {value!r}")


def test_a_sync_file_from_baton_file_is_named_by_it(capsys, monkeypatch, tmp_path):
    """`BATON_FILE=<a directory>` was reported as `-f/--file: ... is a directory`."""
    for name, value in {"BATON_BASE_URL": "http://127.0.0.1:9/api/xm/1", "BATON_USERNAME": "u"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("BATON_PASSWORD", "p")
    monkeypatch.setenv("BATON_XMATTERS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BATON_FILE", str(tmp_path))
    assert main([]) == 2
    assert capsys.readouterr().err.startswith(
        f"baton-xmatters: error: xmatters: BATON_FILE: {tmp_path} is a directory"
    )
    assert main(["-f", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith(
        f"baton-xmatters: error: xmatters: -f/--file: {tmp_path} is a directory"
    )
