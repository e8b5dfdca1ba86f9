"""A sync started with SIGINT ignored (a script's `baton-xmatters ... &`) stops on SIGINT from its start.

The SIGINT is sent by the process itself the moment it imports `orchestration.cli`, the first
module of the project after the console script (a `sitecustomize` on PYTHONPATH installs the trip):
the early window in which an inherited SIG_IGN used to discard the signal, before the interrupt
watcher is installed. Deterministic, and no sync is needed: the base URL is a closed port, so a
sync that ignored the signal fails at its first request instead.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

TRIP = """
import os, signal, sys

class _InterruptAtFirstImport:
    def find_spec(self, name, path=None, target=None):
        if name == "orchestration.cli":
            sys.meta_path.remove(self)
            with open(os.environ["SIGINT_AT_IMPORT"], "w") as seen:
                seen.write(repr(signal.getsignal(signal.SIGINT)))
            os.kill(os.getpid(), signal.SIGINT)
        return None

sys.meta_path.insert(0, _InterruptAtFirstImport())
"""


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_a_sigint_before_the_watcher_stops_a_sync_started_with_sigint_ignored(tmp_path: Path) -> None:
    (tmp_path / "trip").mkdir()
    (tmp_path / "trip" / "sitecustomize.py").write_text(TRIP)
    seen = tmp_path / "sigint_at_import.txt"
    home = tmp_path / "home"
    env = {
        **os.environ,
        "PYTHONPATH": str(tmp_path / "trip"),
        "SIGINT_AT_IMPORT": str(seen),
        "BATON_XMATTERS_HOME": str(home),
        "BATON_BASE_URL": f"http://127.0.0.1:{_closed_port()}/api/xm/1",
        "BATON_USERNAME": "u",
        "BATON_PASSWORD": "p",
    }
    console_script = Path(sys.executable).with_name("baton-xmatters")
    done = subprocess.run(
        [str(console_script), "-f", str(home / "sync.c1z")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_ignore_sigint,
    )
    # the trip ran: the signal was sent as the command line module began to load
    assert seen.read_text() == repr(signal.default_int_handler)
    assert (done.returncode, done.stderr.strip().splitlines()[-1]) == (130, "baton-xmatters: interrupted")
    assert not (home / "sync.c1z").exists()
