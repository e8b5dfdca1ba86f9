"""A `dagster-webserver` on a free loopback port against a temporary Dagster home and data home.

Kept apart from the fixtures so the start-up, the readiness wait and the teardown read as one story:
the server and everything it spawns (code server, run workers, their log tailers) share one process
group, and all of it is stopped when the block ends, also when the test inside it failed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from orchestration.sync_command import EVENT_LOG_YAML
from simulator import XmattersSimulator

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCATION = "baton_xmatters"

# The instance of the test's Dagster home. `dagster-webserver` runs no daemon, and Dagster's default
# QueuedRunCoordinator only puts a launched run into a queue that the daemon dequeues: with it, a run
# launched from the UI would stay QUEUED forever. `dagster dev` would start a daemon, but that is one
# more process loading the code location (about 17 s of CPU on this 2-core machine) and a dequeue
# loop to wait for. The DefaultRunCoordinator hands the run to the run launcher at once, so the
# click in the browser starts the run worker (a subprocess of the code server) immediately.
# The event log is configured as the CLI writes it into a new home (orchestration/sync_command.py).
DAGSTER_YAML = (
    """\
run_coordinator:
  module: dagster._core.run_coordinator
  class: DefaultRunCoordinator
"""
    + EVENT_LOG_YAML
)

SERVER_START_TIMEOUT_S = 150.0


@dataclass(frozen=True)
class DagsterUi:
    """A running webserver and where its run writes: what the test needs to drive and verify it."""

    url: str
    sync_file: Path
    data_home: Path
    dagster_home: Path
    log_file: Path

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Posts a query to the webserver's GraphQL API and returns `data` (raises on GraphQL errors)."""
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = json.loads(response.read())
        if payload.get("errors"):
            raise AssertionError(f"GraphQL errors: {payload['errors']}")
        return payload["data"]

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the webserver's output, to explain a failure in the assertion message."""
        if not self.log_file.exists():
            return ""
        return self.log_file.read_text(encoding="utf-8", errors="replace")[-chars:]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_webserver(simulator: XmattersSimulator, tmp_path: Path) -> Iterator[DagsterUi]:
    """`dagster-webserver -w workspace.yaml` from the repo root, on a free port, against temp state only."""
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    history_dir = json.dumps(str(dagster_home / "history"))
    (dagster_home / "dagster.yaml").write_text(DAGSTER_YAML.format(history_dir=history_dir), encoding="utf-8")
    data_home = tmp_path / "baton_home"
    sync_file = tmp_path / "out" / "sync.c1z"
    log_file = tmp_path / "webserver.log"
    port = free_port()
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("BATON_", "DAGSTER_", "DESTINATION__", "SOURCES__", "RUNTIME__"))
    }
    env.update(
        DAGSTER_HOME=str(dagster_home),
        BATON_XMATTERS_HOME=str(data_home),
        BATON_FILE=str(sync_file),
        BATON_BASE_URL=simulator.base_url,
        BATON_USERNAME=simulator.username,
        BATON_PASSWORD=simulator.password,
        PYTHONUNBUFFERED="1",
    )
    # The webserver of the interpreter running the tests (the project venv), not whatever is on PATH.
    webserver = Path(sys.executable).parent / "dagster-webserver"
    with open(log_file, "wb") as log:
        process = subprocess.Popen(
            [str(webserver), "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    ui = DagsterUi(
        url=f"http://127.0.0.1:{port}",
        sync_file=sync_file,
        data_home=data_home,
        dagster_home=dagster_home,
        log_file=log_file,
    )
    try:
        _wait_for_location(ui, process)
        yield ui
    finally:
        stop_process_tree(process)


def _wait_for_location(ui: DagsterUi, process: subprocess.Popen[bytes]) -> None:
    """Waits until the server answers GraphQL and has loaded the code location without error."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    last_error = "no answer yet"
    query = """{ workspaceOrError { __typename ... on Workspace { locationEntries {
        name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"dagster-webserver exited {process.returncode}:\n{ui.log_tail()}")
        try:
            entries = ui.graphql(query)["workspaceOrError"]["locationEntries"]
            entry = next(e for e in entries if e["name"] == LOCATION)
            loaded = entry["locationOrLoadError"]
            if entry["loadStatus"] == "LOADED" and loaded is not None:
                if loaded["__typename"] == "PythonError":
                    raise AssertionError(f"code location failed to load: {loaded['message']}")
                return
            last_error = f"location {entry['loadStatus']}"
        except (urllib.error.URLError, ConnectionError, TimeoutError, StopIteration, KeyError) as exc:
            last_error = repr(exc)
        time.sleep(1.0)
    raise AssertionError(
        f"webserver not ready after {SERVER_START_TIMEOUT_S:.0f}s ({last_error}):\n{ui.log_tail()}"
    )


def stop_process_tree(process: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """Stops the webserver, its code server and any run worker: SIGTERM the group, then SIGKILL stragglers.

    Descendants are collected first because a child that started its own session would escape the
    process-group signal.
    """
    try:
        descendants = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        descendants = []
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace_s)
    _, alive = psutil.wait_procs(descendants, timeout=2.0)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    for child in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    if process.poll() is None:
        process.kill()
    process.wait(timeout=grace_s)
    # SIGKILL is asynchronous: return only once the code server (which drains RPCs for up to 60 s on
    # SIGTERM) and every other straggler is really gone.
    _, survivors = psutil.wait_procs(alive, timeout=grace_s)
    assert not survivors, f"processes survived SIGKILL: {survivors}"
