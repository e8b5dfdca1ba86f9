"""Dropping a file's clean pages from the page cache before the `.c1z` write.

In a memory cgroup (a 1 GiB pod) the page cache counts against the limit. Before the write the
run's process holds ~0.45 GB of its own memory at scale M and the warehouse file's pages ~0.13 GB;
the writer's scratch database (~420 MB at 190k grants) then does not fit beside them, and the
kernel writes the scratch file's dirty pages to disk and waits for them (cgroup v1 reclaim waits on
writeback), although the file is deleted a second later. Dropped first, the warehouse's pages leave
the room (docs/benchmarks.md, sixteenth round); DuckDB reads what it needs again from the file.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def drop_cached_pages(*paths: Path) -> None:
    """Ask the kernel to drop the cached pages of `paths` (POSIX_FADV_DONTNEED): clean ones go at
    once, dirty ones are written back first (nothing is lost: it is advice, not a truncation).
    Missing files and systems without `posix_fadvise` are skipped."""
    advise = getattr(os, "posix_fadvise", None)
    if advise is None:
        return
    for path in paths:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            with contextlib.suppress(OSError):
                advise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
