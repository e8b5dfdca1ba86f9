"""Imports without the cyclic garbage collector: for the sync's start-up and the GX worker's.

Dagster, dlt and our definitions (~450,000 objects) and GX (~400,000) create long-lived objects by
the hundred thousand; with the default thresholds the collector walks the growing heap again and
again meanwhile (~0.3-0.5 s of CPU each). Their garbage cycles (a few MB) are not worth it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def imports_without_gc(*, freeze_after: bool = False) -> Iterator[None]:
    """No cyclic GC inside; with `freeze_after`, what was built is frozen (never scanned again)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze_after:
            gc.freeze()
        if was_enabled:
            gc.enable()
