"""Import Great Expectations and build the suites on a background thread while a sync extracts.

Why: importing GX is about half of a sync's start-up (~5 s of ~9 s on this 2-core machine) and
nothing needs it before the checks. The extract mostly waits on the network or parses in pyarrow
with the GIL released, so the import fits in its gaps instead of delaying the first request. A
check that arrives first simply waits for the import (Python's import lock); a warm-up that fails
is ignored here and fails again, visibly, in the check.
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
