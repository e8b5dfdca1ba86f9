"""One process at a time uses a dlt pipelines directory, which every warehouse beside it shares.

dlt keeps the pipeline's state and load packages in `<pipelines dir>/xmatters`, and a sync keeps
that directory beside its warehouse (`<dir>/dlt`), so two warehouses in one directory
(`--warehouse a.duckdb` and `--warehouse b.duckdb`, or the UI's home and a CLI `--warehouse`
beside it) share it. Two syncs at once dropped, aborted and loaded each other's packages: both
failed with dlt's own errors (`Directory not empty: .../dlt/xmatters/load`, `Attempt to import
non existing file`), and one tenant's package could be loaded into the other's warehouse. Each
warehouse's own lock cannot see that; this one, `<pipelines dir>.lock`, can.

Re-entrant within a process: the CLI takes it with its warehouse lock, before any request, and
its raw asset, run in the same process, takes it again, as a UI run's raw asset takes it alone.
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from pipelines.xmatters.file_lock import locked_or_refused

_mutex = threading.Lock()
_held: dict[Path, tuple[IO[str], list[int]]] = {}  # pipelines dir -> (locked file, [depth])


def lock_file(pipelines_dir: Path) -> Path:
    path = pipelines_dir.resolve()
    return path.with_name(path.name + ".lock")


@contextmanager
def pipelines_dir_lock(pipelines_dir: Path) -> Iterator[None]:
    """Holds `pipelines_dir` for this process; another process holding it: XmattersError at once."""
    key = pipelines_dir.resolve()
    with _mutex:
        if key not in _held:
            _held[key] = (_acquire(key), [0])
        handle, depth = _held[key]
        depth[0] += 1
    try:
        yield
    finally:
        with _mutex:
            depth[0] -= 1
            if depth[0] == 0:
                del _held[key]
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()


def _acquire(pipelines_dir: Path) -> IO[str]:
    path = lock_file(pipelines_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    return locked_or_refused(
        path,
        f"another sync or load is using dlt's state in {pipelines_dir} (lock {path}), which every "
        f"warehouse in {pipelines_dir.parent} shares: try again when it ends, or keep each "
        "warehouse in a directory of its own",
    )
