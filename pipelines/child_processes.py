"""The sync's worker processes (GX checks, member calls): how they start, what they inherit, how they end."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from pipelines.halt import park_if_halted
from pipelines.native_threads import with_one_blas_thread

PROJECT_ROOT = Path(__file__).resolve().parents[1]

# `python -m <module>`, but deaf to Ctrl-C: a terminal sends SIGINT to the whole process group, and
# a worker dying of it before its parent acts would read as a failure of the run. The parent stops
# its workers itself (orchestration/interrupts.py). The module runs on one chunk of the frame stack
# (pipelines/frame_stack.py): its imports map no memory per call.
_RUN_IGNORING_SIGINT = (
    "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "from pipelines.frame_stack import on_one_chunk; "
    "on_one_chunk(runpy.run_module, sys.argv[1], run_name='__main__', alter_sys=True)"
)


def child_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The parent's environment minus the connector's secrets (`BATON_*`), with this project importable
    and one OpenBLAS thread (pipelines/native_threads.py) unless the parent's environment says otherwise.

    Proxy and CA variables stay: a child that makes requests routes and trusts like its parent.
    """
    env = {name: value for name, value in environ.items() if not name.startswith("BATON_")}
    with_one_blas_thread(env)
    # glibc gives each thread that allocates its own heap ("arena", up to 8 per core), and a heap
    # returns little of what it freed: the member-call process's 32 threads reading large pages held
    # 1,064 MB where two arenas held 502 MB (docs/benchmarks.md, twenty-first round). The threads
    # allocate under the GIL, so two arenas cost them no waiting.
    env.setdefault("MALLOC_ARENA_MAX", "2")
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(PROJECT_ROOT) + (os.pathsep + path if path else "")
    return env


class ChildProcess:
    """`python -m <module>` of this project: pipes to its stdin and stdout, its stderr in a private file.

    The file's last line is what explains a child that died (a traceback's last line, an out-of-memory
    message); it is read only then.
    """

    def __init__(self, module: str, *, unbuffered: bool = False) -> None:
        park_if_halted()  # an interrupted sync starts no worker that its exit would not stop
        self._log: IO[bytes] = tempfile.TemporaryFile(prefix=f"{module}-")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-c", _RUN_IGNORING_SIGINT, module],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=child_environment(os.environ),
            bufsize=0 if unbuffered else -1,
        )
        with _live_lock:
            _live.add(self)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """Ends the child at once (our children hold nothing worth waiting for) and reaps it."""
        process = self.process
        if process.stdin is not None and not process.stdin.closed:
            with contextlib.suppress(OSError):  # a dead child's pipe may fail to flush
                process.stdin.close()
        if process.poll() is None:
            process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()
        self._log.close()
        with _live_lock:
            _live.discard(self)

    def exit_status(self) -> tuple[int, str]:
        """(exit code, its last line of output) once it has exited: what explains a child that died."""
        try:
            code = self.process.wait(timeout=_EXIT_WAIT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self._log.seek(0)
        lines = [line.strip() for line in self._log.read().decode(errors="replace").splitlines()]
        return code, next((line for line in reversed(lines) if line), "no output")


_live: weakref.WeakSet[ChildProcess] = weakref.WeakSet()
_live_lock = threading.Lock()


def signal_all_children(signum: int) -> None:
    """Sends `signum` to every worker this process started and has not stopped yet, without waiting.

    For an interrupted sync that is about to exit: SIGSTOP first (a member-call child sends nothing
    more, and its parent sees no death it would record as a failure), SIGKILL last (no child
    outlives its parent). Reaping is left to the exit: the killed children are then reaped by init
    (within ~2 s in this sandbox, while they show as zombies of the process group). Waiting for
    them here was tried: it gives Dagster's own interrupt handling in the main thread time to
    record the run FAILURE after it was marked CANCELED.
    """
    with _live_lock:
        children = list(_live)
    for child in children:
        with contextlib.suppress(OSError):
            child.process.send_signal(signum)


_EXIT_WAIT_S = 5.0  # a child whose pipe broke is given this long to finish exiting
