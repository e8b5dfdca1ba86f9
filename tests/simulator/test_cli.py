"""`python -m simulator` / `baton-xmatters simulate`: serves until SIGINT/SIGTERM and says how to use it."""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from orchestration.cli import OneLineErrorParser
from simulator.cli import _spec, add_simulate_arguments, export_lines, run_simulate
from simulator.org import OrgSpec, build_org

REPO_ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--people", "30", "--groups", "4", "--large-group-size", "40", "--hidden-people", "2", "--seed", "3"]


def simulator_process(*arguments: str) -> subprocess.Popen[str]:
    """`python -m simulator` on a free port, its output read by `read_banner`."""
    return subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", "0", *arguments],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def base_url_of(banner: str) -> str:
    found = re.search(r"listening on (http://127\.0\.0\.1:\d+/api/xm/1)\n", banner)
    assert found is not None, banner
    return found.group(1)


def read_banner(process: subprocess.Popen) -> str:
    lines = []
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if line.startswith("Press Ctrl+C"):
            return "".join(lines)
    stderr = process.stderr.read() if process.stderr else ""
    raise AssertionError(f"no banner; got {lines!r}, stderr {stderr}")


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_module_serves_until_signalled(stop_signal: signal.Signals):
    process = simulator_process(*SMALL)
    try:
        banner = read_banner(process)
        base_url = base_url_of(banner)
        user, password = re.search(r"user name \+ password: +(\S+) / (\S+)", banner).groups()
        key_id, secret = re.search(r"API key id \+ secret: +(x-api-key-\S+) / (\S+)", banner).groups()
        exports = [line for line in banner.splitlines() if line.startswith("export ")]
        assert exports == [
            f"export BATON_BASE_URL={base_url}",
            f"export BATON_USERNAME={user}",
            f"export BATON_PASSWORD={password}",
        ]
        assert re.search(r"then run /\S+/baton-xmatters ", banner)  # the full path: no venv to activate
        for auth in ((user, password), (key_id, secret)):
            page = requests.get(base_url + "/people", auth=auth, timeout=10).json()
            assert page["total"] == 30
        process.send_signal(stop_signal)
        assert process.wait(timeout=20) == 0
        assert "stopped" in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_run_simulate_in_a_thread_honours_the_knobs(capsys):
    parser = argparse.ArgumentParser()
    add_simulate_arguments(parser)
    knobs = ["--latency-ms", "250", "--rate-limit", "1", "--username", "u", "--password", "p"]
    args = parser.parse_args([*SMALL, *knobs])
    assert (args.host, args.port, args.members_per_group, args.inactive_share) == ("127.0.0.1", 0, 12, 0.15)
    assert args.hostile_text is False
    assert parser.parse_args([*SMALL, "--hostile-text"]).hostile_text is True
    stop = threading.Event()
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(run_simulate(args, stop=stop)))
    thread.start()
    try:
        base_url = None
        for _ in range(200):
            match = re.search(r"listening on (\S+)", capsys.readouterr().out)
            if match:
                base_url = match.group(1)
                break
            time.sleep(0.05)
        assert base_url, "the simulator did not start"
        started = time.monotonic()
        groups = requests.get(base_url + "/groups", auth=("u", "p"), timeout=10).json()
        assert time.monotonic() - started >= 0.25  # --latency-ms
        assert groups["total"] == 4
        refused = requests.get(base_url + "/groups", auth=("u", "p"), timeout=10)
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"  # --rate-limit 1
    finally:
        stop.set()
        thread.join(timeout=20)
    assert result == [0]


def test_invalid_knobs_and_a_busy_port_fail_with_a_message(capsys):
    parser = argparse.ArgumentParser()
    add_simulate_arguments(parser)
    assert run_simulate(parser.parse_args(["--people", "-3"])) == 2
    assert "people must be >= 0" in capsys.readouterr().err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        args = parser.parse_args([*SMALL, "--port", str(busy.getsockname()[1])])
        assert run_simulate(args) == 1
    assert "cannot listen on 127.0.0.1:" in capsys.readouterr().err


def test_export_lines_paste_into_a_shell_as_they_are():
    lines = export_lines("http://127.0.0.1:8089/api/xm/1", "sim user", "p'w $x;")
    shell = subprocess.run(
        ["sh", "-c", lines + '\nprintf "%s|%s|%s" "$BATON_BASE_URL" "$BATON_USERNAME" "$BATON_PASSWORD"'],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shell.stdout == "http://127.0.0.1:8089/api/xm/1|sim user|p'w $x;"


def test_the_default_org_is_mostly_visible_people():
    """It was 200 people and a 2,500-member group: 2,300 of 2,500 synced users were hidden."""
    parser = argparse.ArgumentParser()
    add_simulate_arguments(parser)
    args = parser.parse_args([])
    org = build_org(_spec(args))
    assert len(org.people) == 3000 and len(org.groups) == 120
    assert len(org.hidden_people) == _spec(args).hidden_people == 5


def test_a_small_org_is_not_filled_up_with_hidden_people(capsys):
    """`--people 200` gave 200 people and 2,300 hidden ones (the 2,500-member large group filled up);
    without --large-group-size the large group is at most --people, as in the demo."""
    parser = argparse.ArgumentParser()
    add_simulate_arguments(parser)
    small = _spec(parser.parse_args(["--people", "200", "--groups", "20"]))
    assert (small.people, small.large_group_size, small.hidden_people) == (200, 200, 5)
    assert len(build_org(small).hidden_people) == 5
    assert _spec(parser.parse_args(["--people", "200", "--large-group-size", "500"])).large_group_size == 500
    assert _spec(parser.parse_args([])).large_group_size == OrgSpec().large_group_size


def test_bad_knobs_are_one_line_naming_the_option(capsys):
    parser = OneLineErrorParser(prog="baton-xmatters simulate")
    add_simulate_arguments(parser)
    assert run_simulate(parser.parse_args(["--people", "-3"])) == 2
    assert capsys.readouterr().err == "baton-xmatters: error: --people must be >= 0, got -3\n"
    assert run_simulate(parser.parse_args(["--inactive-share", "2"])) == 2
    share_line = "baton-xmatters: error: --inactive-share must be within [0, 1], got 2.0\n"
    assert capsys.readouterr().err == share_line
    refused = [
        ("--port", "99999", "must be between 0 and 65535, got 99999"),  # was an OverflowError traceback
        ("--port", "abc", "must be a port number"),
        ("--latency-ms", "-5", "must be >= 0, got -5"),  # negative ones were accepted silently
        ("--rate-limit", "-1", "must be >= 0, got -1"),
        ("--latency-ms", "soon", "must be a number, got 'soon'"),
    ]
    for option, value, why in refused:
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args([option, value])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith(f"baton-xmatters: error: argument {option}: {why}") and err.count("\n") == 1


def test_people_0_serves_a_tenant_without_people_and_says_so(tmp_path: Path):
    """`--people 0` announced "0 people (+5 hidden)" and served 5 persons as group members; now no
    person at all, as announced, and a sync of it succeeds with no users."""
    process = simulator_process("--people", "0", "--groups", "3")
    try:
        banner = read_banner(process)
        assert "  0 people (+0 hidden), 3 groups, " in banner and "(0 PERSON, " in banner
        # the count of member items, then its parts in parentheses ("0 member items 0 PERSON" ran on)
        [items] = [line for line in banner.splitlines() if "member items" in line]
        assert re.search(
            r", \d+ member items \(0 PERSON, \d+ GROUP, \d+ DEVICE, \d+ DYNAMIC_TEAM\)$", items
        ), items
        base_url = base_url_of(banner)
        auth = ("sim-user", "sim-password")
        assert requests.get(base_url + "/people", auth=auth, timeout=10).json()["total"] == 0
        for group in requests.get(base_url + "/groups", auth=auth, timeout=10).json()["data"]:
            members = requests.get(f"{base_url}/groups/{group['id']}/members", auth=auth, timeout=10).json()
            assert [m for m in members["data"] if m["member"]["recipientType"] == "PERSON"] == []
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("BATON_", "DAGSTER_"))},
            "BATON_BASE_URL": base_url,
            "BATON_USERNAME": auth[0],
            "BATON_PASSWORD": auth[1],
            "BATON_XMATTERS_HOME": str(tmp_path / "home"),
        }
        argv = ["-f", str(tmp_path / "empty.c1z"), "--log-level", "error"]
        sync = subprocess.run(
            [sys.executable, "-m", "orchestration.cli", *argv],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert sync.returncode == 0, sync.stderr
        assert "  users          0\n" in sync.stdout and "  groups         3\n" in sync.stdout
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_hidden_people_are_at_most_people_unless_asked_for():
    parser = argparse.ArgumentParser()
    add_simulate_arguments(parser)
    assert _spec(parser.parse_args(["--people", "0"])).hidden_people == 0
    assert _spec(parser.parse_args(["--people", "3"])).hidden_people == 3
    assert _spec(parser.parse_args([])).hidden_people == OrgSpec().hidden_people
    assert _spec(parser.parse_args(["--people", "0", "--hidden-people", "4"])).hidden_people == 4
