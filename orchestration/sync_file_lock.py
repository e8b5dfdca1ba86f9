"""One CLI sync at a time per `.c1z` target, whatever warehouse it syncs.

The warehouse lock (`sync_command.sync_lock`) keeps two syncs of one warehouse apart, but two
warehouses (two tenants, two data homes) may name one target: the default `-f sync.c1z` run
from one working directory. Both wrote `<file>.pending`, each removed the other's temporaries as
stale (`sync_command.remove_stale_temporaries`), and one renamed the other's file into place:
a sync reported as failed (`No such file or directory: '<file>.pending'`) whose warehouse had
published, and a summary naming a sync the file did not hold. The second sync now stops at once,
before any request, naming the file.

The lock file is not beside the target: it would stay there for good, next to the user's
`.c1z`. It sits in a directory of this user's under the system temp directory, named by a
hash of the target's resolved path, and is removed as it is released (the inode is checked after
locking, so a file removed meanwhile is not held by two). A directory there that is not this
user's own (another user made it first) leaves the sync unlocked, as before, rather than
refused: nobody else can stop a sync.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

from pipelines.xmatters.file_lock import locked_or_refused


def lock_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"baton-xmatters-{os.getuid()}-sync-files"


def lock_path(sync_file: Path) -> Path:
    digest = hashlib.sha256(os.fsencode(sync_file.resolve())).hexdigest()[:32]
    return lock_dir() / f"{digest}.lock"


@contextmanager
def sync_file_lock(sync_file: Path) -> Iterator[None]:
    """Holds `sync_file` for this sync; another sync holding it: XmattersError at once."""
    path = lock_path(sync_file)
    if not _own_private_dir(path.parent):
        yield
        return
    handle = _acquire(path, sync_file)
    try:
        yield
    finally:
        with suppress(FileNotFoundError):
            path.unlink()  # still ours: nobody else holds it while we do
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def _own_private_dir(directory: Path) -> bool:
    with suppress(FileExistsError):
        directory.mkdir(mode=0o700)
    try:
        info = directory.lstat()
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()


def _acquire(path: Path, sync_file: Path) -> IO[str]:
    refused = (
        f"another sync is writing {sync_file} (from another warehouse); try again when it ends, or "
        "give each warehouse its own -f/--file"
    )
    while True:
        handle = locked_or_refused(path, refused)
        try:
            same = os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return handle
        handle.close()  # its holder removed it as we opened it: lock the file now there
