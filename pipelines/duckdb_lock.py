"""Who holds a DuckDB file that could not be opened: DuckDB names the process in its lock error.

DuckDB allows one writing process and no reader beside it. Its error ends in advice to open the
file read-only, which a sync or a load cannot follow; the holder's PID and program, which it also
names, are what a user needs. Here, below orchestration/, so the dlt-only loader
(pipelines/xmatters_pipeline.py) and the sync (orchestration/preflight.py) read it alike.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")


class LockHolder(NamedTuple):
    pid: int
    program: str


def lock_holder(error: BaseException | str) -> LockHolder | None:
    """The process DuckDB says holds the file, from its error (or that error's text); else None."""
    found = _LOCK_HOLDER.search(str(error))
    return LockHolder(int(found["pid"]), found["program"]) if found else None
