"""Runs one full-sync task's sync in a child process and watches it (see child.py for why a process).

The parent forwards the child's output lines to its own stderr (the container log), all but the
child's `baton-xmatters: error: ...` line: that line becomes the task's FinishTask message and the
cause in the service's one line for the failed task (loop.py). Echoed as it is, it read as the
service's own exit line, right before the service went on polling.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

logger = logging.getLogger("baton_xmatters.service")

ERROR_PREFIX = "baton-xmatters: error: "
# The CLI's interrupt ends in well under a second (docs/failure-behaviour.md); a sync still running
# after this is killed with its workers. Part of the service's stop budget (loop.py, STOP_BUDGET_S).
STOP_WAIT_S = 3.0
READER_WAIT_S = 0.5  # for the last output lines of a sync that was stopped
# Never handed to the child: it needs neither the C1 credentials nor a second copy of the password.
WITHHELD_ENV = ("BATON_CLIENT_ID", "BATON_CLIENT_SECRET", "BATON_PASSWORD", "BATON_PASSWORD_FILE")


@dataclass
class SyncResult:
    exit_code: int
    error: str | None  # the child's one-line error, without the prefix

    @property
    def success(self) -> bool:
        return self.exit_code == 0


CHILD_COMMAND = (sys.executable, "-m", "orchestration.service.child")


class SyncProcess:
    def __init__(
        self,
        options: Mapping[str, Any],
        task_id: str = "",
        env: Mapping[str, str] | None = None,
        command: Sequence[str] = CHILD_COMMAND,  # tests stand in a sync that will not stop
        pass_fds: Sequence[int] = (),  # the task directory's lock (task_dirs.py), held while it lives
    ) -> None:
        child_env = {k: v for k, v in (os.environ if env is None else env).items() if k not in WITHHELD_ENV}
        self._process = subprocess.Popen(
            list(command),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=child_env,
            text=True,
            start_new_session=True,  # a terminal's Ctrl-C reaches the service, which stops the child
            pass_fds=tuple(pass_fds),
        )
        self._error: str | None = None
        self._reader = threading.Thread(target=self._forward, args=(self._process.stdout,), daemon=True)
        self._reader.start()
        assert self._process.stdin is not None
        # One line of options; the pipe then stays open while this process lives: its end tells an
        # orphaned child to stop (child.py), since a child in its own session outlives a SIGKILL.
        self._process.stdin.write(json.dumps({"options": dict(options), "task_id": task_id}) + "\n")
        self._process.stdin.flush()

    @property
    def pid(self) -> int:
        return self._process.pid

    def _forward(self, stream: IO[str]) -> None:
        for line in stream:
            if line.startswith(ERROR_PREFIX):
                self._error = line[len(ERROR_PREFIX) :].strip()
            else:
                sys.stderr.write(line)
        sys.stderr.flush()

    def poll(self, timeout: float) -> SyncResult | None:
        try:
            code = self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self._close_stdin()
        self._reader.join(timeout=5)  # its error line is the task's message: not hurried
        return SyncResult(code, self._error)

    def _close_stdin(self) -> None:
        if self._process.stdin is not None and not self._process.stdin.closed:
            with contextlib.suppress(OSError):
                self._process.stdin.close()

    def stop(self) -> SyncResult:
        """SIGTERM (the CLI's clean interrupt: the run is marked canceled), then SIGKILL if it hangs.

        The SIGKILL goes to the sync's process group (its session, see __init__), so the member-call
        and expectations workers go with it instead of running on without their parent.
        """
        if self._process.poll() is None:
            logger.info("stopping the sync (process %d)", self._process.pid)
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                logger.warning(
                    "the sync (process %d) did not stop within %.0f s of SIGTERM; killing it",
                    self._process.pid,
                    STOP_WAIT_S,
                )
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
        self._close_stdin()
        self._reader.join(timeout=READER_WAIT_S)
        return SyncResult(self._process.returncode, self._error)


def start_sync_process(options: Mapping[str, Any], pass_fds: Sequence[int], task_id: str) -> SyncProcess:
    """The service's way to start a task's sync (loop.Service's `start_sync`)."""
    return SyncProcess(options, task_id, pass_fds=pass_fds)


def child_options(options: Mapping[str, Any], sync_file: Path) -> dict[str, Any]:
    """The sync's options for one task: its own file; everything else as the service was started."""
    return {**options, "sync_file": str(sync_file)}
