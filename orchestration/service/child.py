"""A full-sync task's sync, in its own process: `python -m orchestration.service.child` (JSON on stdin).

Why a process per task: a task cancelled by C1 must stop its sync without stopping the service, and
the CLI's sync already stops cleanly on SIGTERM (orchestration/interrupts.py: requests halt, the
Dagster run is marked canceled, temporaries go, exit 143). Each task's memory also goes with it.
The options arrive on stdin, not argv or environment, so the xMatters password is not readable from
/proc by other users' tools; the C1 client secret is not passed at all. The service keeps that pipe
open: its end (the service killed, even by SIGKILL) stops the sync as SIGTERM does, because a
child in its own session would otherwise sync on alone, holding the warehouse's lock.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import sys
import threading


def _stop_when_orphaned() -> None:
    sys.stdin.read()  # returns at end of file: the service is gone (it closes it only after our exit)
    os.kill(os.getpid(), signal.SIGTERM)


def main() -> int:
    request = json.loads(sys.stdin.readline())
    threading.Thread(target=_stop_when_orphaned, name="orphan-watch", daemon=True).start()
    from orchestration import run_tags
    from orchestration.cli import _configure_logging
    from orchestration.sync_command import build_options, run_sync

    options = build_options(**request["options"])
    # both resolved by the service (its flags and variables), as every other sync option
    _configure_logging(options.log_level or "info", options.log_format or "console")
    # the task's id names the run and, in `c1.sync_runs`, what the deleted temporary file became
    return run_sync(options, tags=run_tags.c1_task(request["task_id"]))


if __name__ == "__main__":
    exit_code = main()
    gc.freeze()  # as the console script: no collection of Dagster's heap at exit
    sys.exit(exit_code)
