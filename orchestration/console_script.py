"""The `baton-xmatters` console script: SIGINT and SIGTERM taken back before anything is imported.

Why: a shell without job control (a script's `baton-xmatters ... &`) starts its background jobs
with SIGINT ignored, and Python keeps that. The sync's interrupt watcher (orchestration/interrupts.py)
installs its own handlers anyway, but only once the sync's imports are done: a SIGINT before then
was discarded and that sync ran to completion, one after it stopped the sync. Taking the signals
back in `orchestration.cli` still left its own imports (~0.15-0.3 s under load) to the old
disposition, so this module imports nothing of the project before it. One rule from the first
instruction of ours on: SIGINT and SIGTERM stop the command, as they do baton's Go connectors
(Go's `signal.Notify` takes an ignored SIGINT back too) and `make ui`. Only the interpreter's own
start-up (tens of milliseconds) comes before.
"""

from __future__ import annotations

import signal
import sys
from typing import NoReturn

INTERRUPTED = "baton-xmatters: interrupted"  # the line of every interrupt (orchestration/interrupts.py)


def run() -> NoReturn:
    """Takes back an inherited SIG_IGN of SIGINT or SIGTERM, then runs `orchestration.cli.run`."""
    defaults = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}
    for signum, default in defaults.items():
        if signal.getsignal(signum) == signal.SIG_IGN:
            signal.signal(signum, default)
    try:
        from orchestration import cli
    except KeyboardInterrupt:  # Ctrl-C while the command's own modules load: one line, as later
        print(INTERRUPTED, file=sys.stderr)
        sys.exit(130)
    cli.run()
