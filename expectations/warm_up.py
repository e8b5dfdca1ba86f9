"""Import Great Expectations and build the suites on a background thread before the checks run.

Why: importing GX was about half of a sync's start-up (~5 s of ~9 s on this 2-core machine) and
nothing needs it before the checks; started while the transforms run in DuckDB (without the GIL),
it is mostly hidden (orchestration/hooks.py). A check that arrives first simply waits for the
import (Python's import lock); a warm-up that fails is ignored here and fails again, visibly, in
the check.
"""

from __future__ import annotations

import logging
import threading

logger = logging.getLogger(__name__)


def start() -> threading.Thread:
    thread = threading.Thread(target=_prepare, name="expectations-warm-up", daemon=True)
    thread.start()
    return thread


def _prepare() -> None:
    try:
        from expectations.runner import prepare

        prepare()
    except Exception:  # the check imports and reports it
        logger.debug("warming up the expectation suites failed", exc_info=True)
