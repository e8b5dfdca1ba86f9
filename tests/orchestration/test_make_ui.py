"""`make ui`: the port and the data directory are variables (`make ui PORT=3310`), the default 3000.

The recipe is checked with `make -n` (what it would run); starting `dagster dev` here would cost
a webserver, a daemon and a code server for what is a command line.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def make_ui(*variables: str) -> str:
    # not the variables of a `make test` around this test: they make the inner make print
    # "make[1]: Entering directory ..." lines among the recipe's
    ignored = ("PORT", "DAGSTER_HOME", "BATON_XMATTERS_HOME", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")
    env = {k: v for k, v in os.environ.items() if k not in ignored}
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", "ui", *variables],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.replace("\\\n", " ")


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_make_ui_takes_a_port_and_a_data_directory():
    default = make_ui()
    assert "dagster dev -w workspace.yaml -p 3000" in default
    assert f"DAGSTER_HOME={REPO_ROOT}/var/dagster " in default
    assert f"BATON_XMATTERS_HOME={REPO_ROOT}/var " in default

    assert "dagster dev -w workspace.yaml -p 3310" in make_ui("PORT=3310")

    demo = make_ui("BATON_XMATTERS_HOME=var/demo")  # the demo's run history and warehouse
    assert f"DAGSTER_HOME={REPO_ROOT}/var/demo/dagster " in demo
    assert f"BATON_XMATTERS_HOME={REPO_ROOT}/var/demo " in demo


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_make_ui_runs_dagster_under_umask_077(tmp_path: Path):
    """UI runs created the warehouse 0644 (the CLI's syncs run under umask 077): the recipe's shell
    line, run with `dagster` replaced by a probe, reports the umask dagster would get."""
    line = next(part for part in make_ui().splitlines() if "dagster dev" in part)
    probe = line.split(" dev -w")[0].replace(".venv/bin/dagster", "sh -c umask")
    result = subprocess.run(["sh", "-c", f"umask 022; {probe}"], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "0077"
    # the Dagster home is created by the line before, under the same umask
    assert all(part.startswith("umask 077 && ") for part in make_ui().splitlines() if part.strip())


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_a_sigterm_to_make_ui_reaches_dagster_dev(tmp_path: Path):
    """A supervisor's stop, `timeout make ui` or `kill <make's pid>` sends make SIGTERM, which make
    passes to its child: that was the recipe's shell, which died of it, and `dagster dev` (its
    webserver, daemon and code server) ran on, orphaned. `make ui` is run for real, with `dagster`
    a probe that says when SIGTERM reaches it."""
    bin_dir = _bin_with_this_python(tmp_path)
    got = tmp_path / "got"
    probe = bin_dir / "dagster"
    probe.write_text(
        f"#!/bin/sh\ntrap 'echo TERM > {got}; exit 0' TERM\necho started > {got}\n"
        "while :; do sleep 0.1; done\n"
    )
    probe.chmod(0o755)
    make = _start_make_ui(bin_dir, tmp_path)
    try:
        _wait_for(lambda: got.exists(), 60)
        make.send_signal(signal.SIGTERM)
        make.wait(30)
        _wait_for(lambda: got.read_text().strip() == "TERM", 10)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(make.pid, signal.SIGKILL)  # the probe too, were it left behind
        make.wait()
    assert got.read_text().strip() == "TERM"


def _bin_with_this_python(tmp_path: Path) -> Path:
    """A BIN for the recipe: its first line (which makes the Dagster home) runs this venv's python;
    the caller adds a `dagster` probe."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    python = bin_dir / "python"
    python.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    python.chmod(0o755)
    return bin_dir


def _start_make_ui(bin_dir: Path, tmp_path: Path, **popen: Any) -> subprocess.Popen[bytes]:
    """The real `make ui` with `bin_dir`'s probe for dagster, in its own session (its group is signalled)."""
    ignored = ("PORT", "DAGSTER_HOME", "BATON_XMATTERS_HOME", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")
    env = {k: v for k, v in os.environ.items() if k not in ignored}
    return subprocess.Popen(
        ["make", "--no-print-directory", "ui", f"BIN={bin_dir}", "STAMP=", f"BATON_XMATTERS_HOME={tmp_path}"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        **popen,
    )


def _wait_for(condition, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_ctrl_c_stops_make_ui_started_in_the_background(tmp_path: Path):
    """`make ui &` from a script (or `setsid nohup make ui &`) starts with SIGINT ignored: a shell
    without job control does that to every `&` job. Python keeps an inherited SIG_IGN, and Dagster's
    `setup_interrupt_handlers` copies SIGINT's handler to SIGTERM, so `dagster dev` ignored both and
    only SIGKILL stopped it (seen: no exit 60 s after SIGINT to the group). `make ui` is run for real,
    with SIGINT ignored as `&` leaves it, and `dagster` a Python probe doing what `dagster dev` does
    with its signals; SIGINT to the group must stop it."""
    bin_dir = _bin_with_this_python(tmp_path)
    got = tmp_path / "got"
    probe = bin_dir / "dagster"
    probe.write_text(
        f"#!{sys.executable}\n"
        "import pathlib, time\n"
        "from dagster._utils.interrupts import setup_interrupt_handlers\n"
        "setup_interrupt_handlers()\n"
        f"got = pathlib.Path({str(got)!r})\n"
        "got.write_text('started')\n"
        "try:\n"
        "    while True:\n"
        "        time.sleep(0.1)\n"
        "except KeyboardInterrupt:\n"
        "    got.write_text('interrupted')\n"
    )
    probe.chmod(0o755)
    make = _start_make_ui(
        bin_dir, tmp_path, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)
    )  # what `&` does
    try:
        _wait_for(lambda: got.exists() and got.read_text() == "started", 60)
        os.killpg(make.pid, signal.SIGINT)  # Ctrl-C, or `kill -INT -- -<pgid>`
        with contextlib.suppress(subprocess.TimeoutExpired):
            make.wait(30)
        stopped = make.poll() is not None
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(make.pid, signal.SIGKILL)  # the probe too, were it left behind
        make.wait()
    assert got.read_text() == "interrupted"
    assert stopped
