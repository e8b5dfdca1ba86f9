"""A lock file taken at once or refused with the caller's line: how every "one at a time" here starts.

`flock` on a file opened for appending (never truncated: another process's reads of it stay whole),
without waiting: a sync that finds another in its way stops with one line saying which and what to
do, instead of queueing behind it for minutes. The lock goes with the process, however it ends.
"""

from __future__ import annotations

import fcntl
from pathlib import Path
from typing import IO

from pipelines.xmatters.errors import XmattersError


def locked_or_refused(path: Path, refused: str) -> IO[str]:
    """`path` open and locked by this process (release: close it); another holder: XmattersError(refused)."""
    handle = open(path, "a+")  # noqa: SIM115 (the caller closes it as it releases the lock)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise XmattersError(refused) from None
    return handle
