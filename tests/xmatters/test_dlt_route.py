"""The raw pipeline configured the dlt way, and dlt's own `dlt pipeline` commands on what it left.

`python -m pipelines.xmatters_pipeline` runs as a subprocess in a project directory of its own,
as a user runs it: dlt reads `.dlt/*.toml` from the working directory and `SOURCES__XMATTERS__*`
from the environment. Before the dlt route was wired in, both ended in `missing --base-url`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.xmatters.config import XmattersConfig
from pipelines.xmatters.errors import ConfigError
from pipelines.xmatters_pipeline import resolve_config
from simulator import OrgSpec, XmattersSimulator, build_org
from tests.xmatters.helpers import PASSWORD, rows

SPEC = OrgSpec(seed=5, people=20, groups=4, members_per_group=3, hidden_people=1, large_groups=0)
RAW_TABLES = ("people", "groups", "group_members", "email_devices")
DLT = Path(sys.executable).with_name("dlt")


@pytest.fixture(scope="module")
def sim() -> Iterator[XmattersSimulator]:
    with XmattersSimulator(build_org(SPEC), password=PASSWORD) as server:
        yield server


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any BATON_* or dlt source setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BATON_", "SOURCES__", "DLT_"))}
    return {**env, "RUNTIME__DLTHUB_TELEMETRY": "false", **extra}


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


def run_pipeline(cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "pipelines.xmatters_pipeline"], cwd, env)


def assert_loaded(project: Path, sim: XmattersSimulator) -> None:
    """The default layout (var/ of the working directory) holds exactly the simulator's rows."""
    warehouse = project / "var" / "warehouse.duckdb"
    org = sim.org
    counts = [rows(warehouse, f"SELECT count(*) FROM xmatters_raw.{t}")[0][0] for t in RAW_TABLES]
    assert counts == [len(org.people), len(org.groups), org.membership_rows(), 0]
    for path in (project / "var").rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path


def write_secrets(project: Path, sim: XmattersSimulator) -> None:
    (project / ".dlt").mkdir()
    (project / ".dlt" / "secrets.toml").write_text(
        "[sources.xmatters]\n"
        f'base_url = "{sim.base_url}"\n'
        f'username = "{sim.username}"\n'
        f'xmatters_password = "{PASSWORD}"\n'
    )


def test_secrets_toml_of_the_working_directory_configures_the_pipeline(sim, tmp_path):
    write_secrets(tmp_path, sim)
    done = run_pipeline(tmp_path, clean_env())
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"{len(sim.org.people)} people, {len(sim.org.groups)} groups" in done.stdout
    assert_loaded(tmp_path, sim)

    # dlt's own CLI on the pipeline just run: the pipelines dir is var/dlt, not dlt's ~/.dlt default
    dlt_pipeline = [str(DLT), "pipeline", "--pipelines-dir", "var/dlt"]
    listed = run([*dlt_pipeline, "--list-pipelines"], tmp_path, clean_env())
    assert listed.returncode == 0 and "xmatters" in listed.stdout.split(), listed.stdout + listed.stderr
    info = run([*dlt_pipeline, "xmatters", "info"], tmp_path, clean_env())
    assert info.returncode == 0, info.stderr
    assert "dataset_name: xmatters_raw" in info.stdout
    for table in RAW_TABLES:
        assert f"{table} with 1 table(s)" in info.stdout
    trace = run([*dlt_pipeline, "xmatters", "trace", "-v"], tmp_path, clean_env())
    assert trace.returncode == 0, trace.stderr
    assert f"- people: {len(sim.org.people)} row(s)" in trace.stdout
    assert f"- group_members: {sim.org.membership_rows()} row(s)" in trace.stdout
    assert "`sources.xmatters.xmatters_password` = <secret>" in trace.stdout
    assert PASSWORD not in trace.stdout + info.stdout

    # `show` is dlt's workspace dashboard: without dlt[hub] (the `dashboard` extra) dlt says so
    if importlib.util.find_spec("dlthub") is None:
        show = run([*dlt_pipeline, "xmatters", "show"], tmp_path, clean_env())
        assert "Install dlt[hub]" in show.stdout + show.stderr


DASHBOARD_INSTALLED = all(importlib.util.find_spec(name) for name in ("dlthub", "marimo", "ibis"))


@pytest.mark.skipif(
    not DASHBOARD_INSTALLED,
    reason="the dashboard extra is not installed: pip install -e '.[dashboard]' (dlt[hub], marimo, ibis)",
)
def test_dlt_pipeline_show_serves_the_dashboard_on_localhost(sim, tmp_path):
    write_secrets(tmp_path, sim)
    done = run_pipeline(tmp_path, clean_env())
    assert done.returncode == 0, done.stderr[-2000:]
    # dlt starts `marimo run` by name: the environment's bin directory must be on PATH (an active venv)
    env = clean_env(PATH=f"{DLT.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    show = subprocess.Popen(
        [str(DLT), "pipeline", "--pipelines-dir", "var/dlt", "xmatters", "show"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # dlt's marimo child is stopped with it, as one process group
    )
    try:
        url = dashboard_url(show)
        assert wait_healthy(url) == {"status": "healthy"}
        with urllib.request.urlopen(url, timeout=30) as page:
            assert "<title>dlt workspace dashboard</title>" in page.read().decode()
        # the page is drawn by marimo's kernel over a websocket: it reads our pipeline offline
        assert "people" in kernel_output(url, until="group_members")
    finally:
        os.killpg(show.pid, signal.SIGTERM)
        show.wait(timeout=30)


def kernel_output(url: str, *, until: str) -> str:
    """What marimo's kernel sends a new session, up to the first message holding `until`."""
    from websockets.sync.client import connect  # a marimo dependency: present with the extra

    seen: list[str] = []
    deadline = time.monotonic() + 120
    ws_url = url.replace("http://", "ws://") + "/ws?session_id=s_test&kiosk=false"
    with connect(ws_url, max_size=None, open_timeout=30) as ws:
        while time.monotonic() < deadline:
            message = ws.recv(timeout=max(deadline - time.monotonic(), 0.1))
            seen.append(message if isinstance(message, str) else message.decode())
            if until in seen[-1]:
                break
    return "".join(seen)


def wait_healthy(url: str) -> object:
    """marimo's `/health` answer, polled: the URL is printed a moment before the server listens."""
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=10) as health:
                return json.load(health)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def dashboard_url(show: subprocess.Popen[str]) -> str:
    """The `URL: http://localhost:PORT` marimo prints once it listens (the port is 2718 unless taken)."""
    assert show.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = show.stdout.readline()
        if not line:
            break
        seen.append(line)
        found = re.search(r"URL: (http://(?:localhost|127\.0\.0\.1):\d+)", line)
        if found:
            return found.group(1)
    raise AssertionError("dlt pipeline show printed no URL:\n" + "".join(seen))


def test_an_empty_home_variable_is_unset(sim, tmp_path):
    """`export BATON_XMATTERS_HOME=` put the warehouse and dlt's state into the working directory
    itself (`./warehouse.duckdb`, `./dlt`), where the full sync takes the default home `./var`."""
    flags = ["--base-url", sim.base_url, "--username", sim.username, "--password", PASSWORD]
    argv = [sys.executable, "-m", "pipelines.xmatters_pipeline", *flags]
    done = run(argv, tmp_path, clean_env(BATON_XMATTERS_HOME=""))
    assert done.returncode == 0, done.stderr[-2000:]
    assert [path.name for path in tmp_path.iterdir()] == ["var"]
    assert_loaded(tmp_path, sim)
    assert (tmp_path / "var" / "dlt" / "xmatters" / "state.json").is_file()


def test_sources_environment_variables_configure_the_pipeline(sim, tmp_path):
    env = clean_env(
        SOURCES__XMATTERS__BASE_URL=sim.base_url,
        SOURCES__XMATTERS__USERNAME=sim.username,
        SOURCES__XMATTERS__XMATTERS_PASSWORD=PASSWORD,
    )
    done = run_pipeline(tmp_path, env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert_loaded(tmp_path, sim)


MISSING_BASE_URL = (
    "xmatters_pipeline: error: xmatters: missing --base-url (or BATON_BASE_URL), or base_url under "
    "[sources.xmatters] in .dlt/config.toml or .dlt/secrets.toml, or SOURCES__XMATTERS__BASE_URL\n"
)


def test_nothing_configured_names_every_place_this_route_reads(tmp_path):
    """It named only --base-url/BATON_BASE_URL, though this route reads dlt's settings as well."""
    done = run_pipeline(tmp_path, clean_env())
    assert done.returncode == 2  # bad configuration, nothing requested: as baton-xmatters
    assert (done.stdout, done.stderr) == ("", MISSING_BASE_URL)
    # dlt's user name and password without its base URL: the base URL is what is missing, both ways
    env = clean_env(SOURCES__XMATTERS__USERNAME="u", SOURCES__XMATTERS__XMATTERS_PASSWORD=PASSWORD)
    done = run_pipeline(tmp_path, env)
    assert (done.returncode, done.stderr) == (2, MISSING_BASE_URL)
    assert list(tmp_path.iterdir()) == []  # nothing requested, nothing written
    # a flag gave part of the connection: dlt's route is closed, the flags' message as before
    done = run(
        [sys.executable, "-m", "pipelines.xmatters_pipeline", "--username", "u"], tmp_path, clean_env()
    )
    assert done.stderr == "xmatters_pipeline: error: xmatters: missing --base-url (or BATON_BASE_URL)\n"


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["--usernme", "sim-user"],
            "xmatters_pipeline: error: unrecognized argument --usernme and 1 word (not shown); "
            "did you mean --username? (see python -m pipelines.xmatters_pipeline --help)",
        ),
        (
            ["extra"],
            "xmatters_pipeline: error: unrecognized: 1 word (not shown) "
            "(see python -m pipelines.xmatters_pipeline --help)",
        ),
        (
            ["--warehouse", ""],
            "xmatters_pipeline: error: argument --warehouse: is empty (leave it out to use the default) "
            "(see python -m pipelines.xmatters_pipeline --help)",
        ),
    ],
)
def test_a_bad_argument_is_one_line_and_exit_2_as_in_the_cli(tmp_path, args, line):
    """It printed argparse's 13-line usage block before the error."""
    done = run([sys.executable, "-m", "pipelines.xmatters_pipeline", *args], tmp_path, clean_env())
    assert (done.returncode, done.stdout, done.stderr) == (2, "", line + "\n")


def test_a_401_names_the_settings_this_route_read_them_from(sim, tmp_path):
    """Configured through dlt, the hint named --username/--password, which this run never read."""
    (tmp_path / "dlt").mkdir()
    (tmp_path / "dlt" / ".dlt").mkdir()
    (tmp_path / "dlt" / ".dlt" / "secrets.toml").write_text(
        f'[sources.xmatters]\nbase_url = "{sim.base_url}"\n'
        f'username = "{sim.username}"\nxmatters_password = "wrong"\n'
    )
    done = run_pipeline(tmp_path / "dlt", clean_env())
    assert done.returncode == 1
    assert (
        done.stderr.startswith("xmatters_pipeline: error: xmatters: HTTP 401 from ")
        and done.stderr.count("\n") == 1
    )
    assert done.stderr.endswith(
        "(check username and xmatters_password under [sources.xmatters] in .dlt/config.toml or "
        ".dlt/secrets.toml, or SOURCES__XMATTERS__USERNAME/SOURCES__XMATTERS__XMATTERS_PASSWORD)\n"
    )
    assert "--username" not in done.stderr
    # given as flags, the flags and their variables are what to check
    (tmp_path / "flags").mkdir()
    flags = ["--base-url", sim.base_url, "--username", sim.username, "--password", "wrong"]
    done = run([sys.executable, "-m", "pipelines.xmatters_pipeline", *flags], tmp_path / "flags", clean_env())
    assert done.returncode == 1
    assert done.stderr.endswith(
        "(check the user name and password: --username, --password or --password-file; "
        "BATON_USERNAME, BATON_PASSWORD or BATON_PASSWORD_FILE)\n"
    )
    # a first load refused leaves no warehouse (it left a 12 KB database without a table, taken
    # for a real one by `baton-xmatters sql`), as a first CLI sync
    for project in ("dlt", "flags"):
        assert not (tmp_path / project / "var" / "warehouse.duckdb").exists()


FLAGS = {"base_url": None, "username": None, "password": None, "password_file": None}


def test_flags_and_baton_variables_win_over_dlt(monkeypatch):
    monkeypatch.setenv("SOURCES__XMATTERS__BASE_URL", "https://dlt.example.com/api/xm/1")
    monkeypatch.setenv("SOURCES__XMATTERS__USERNAME", "dlt-user")
    monkeypatch.setenv("SOURCES__XMATTERS__XMATTERS_PASSWORD", "dlt-secret")
    env = {"BATON_USERNAME": "env-user", "BATON_PASSWORD": "env-secret"}
    flags = {**FLAGS, "base_url": "https://flag.example.com/api/xm/1"}
    config = resolve_config(flags, env)
    assert (config.base_url, config.username, config.password) == (
        "https://flag.example.com/api/xm/1",
        "env-user",
        "env-secret",
    )
    # given nothing else, dlt's configuration decides, its concurrency too unless the flag says otherwise
    monkeypatch.setenv("SOURCES__XMATTERS__CONCURRENCY", "3")
    config = resolve_config(FLAGS, {})
    assert config == XmattersConfig(
        base_url="https://dlt.example.com/api/xm/1", username="dlt-user", password="dlt-secret", concurrency=3
    )
    assert resolve_config({**FLAGS, "concurrency": "2"}, {}).concurrency == 2
    # every setting has its dlt key, converted to the setting's type
    monkeypatch.setenv("SOURCES__XMATTERS__TIMEOUT_S", "2.5")
    monkeypatch.setenv("SOURCES__XMATTERS__ALLOW_INSECURE_HTTP", "true")
    config = resolve_config(FLAGS, {})
    assert (config.timeout_s, config.allow_insecure_http) == (2.5, True)
    monkeypatch.setenv("SOURCES__XMATTERS__PAGE_SIZE", "0")
    with pytest.raises(
        ConfigError, match=r"\[sources.xmatters\] page_size must be between 1 and 1000, got 0"
    ):
        resolve_config(FLAGS, {})
    monkeypatch.setenv("SOURCES__XMATTERS__PAGE_SIZE", "many")
    with pytest.raises(ConfigError, match=r"\[sources.xmatters\] page_size must be an integer"):
        resolve_config(FLAGS, {})


def test_a_partial_dlt_configuration_names_the_missing_key(monkeypatch):
    monkeypatch.setenv("SOURCES__XMATTERS__BASE_URL", "https://dlt.example.com/api/xm/1")
    monkeypatch.setenv("SOURCES__XMATTERS__USERNAME", "dlt-user")
    with pytest.raises(ConfigError, match=r"xmatters_password in \.dlt/secrets\.toml"):
        resolve_config(FLAGS, {})


def test_a_connection_split_between_baton_and_dlt_says_why_dlt_is_not_used(monkeypatch):
    """SOURCES__XMATTERS__BASE_URL with --username/--password said only "missing --base-url"."""
    monkeypatch.setenv("SOURCES__XMATTERS__BASE_URL", "https://dlt.example.com/api/xm/1")
    flags = {**FLAGS, "username": "u", "password": "p"}
    with pytest.raises(ConfigError) as caught:
        resolve_config(flags, {})
    assert str(caught.value) == (
        "xmatters: missing --base-url (or BATON_BASE_URL); dlt's [sources.xmatters] is not used because "
        "a flag or BATON_* variable gives part of the connection: give all of it one way"
    )
