"""Whether a Dagster SQLite storage file is already created and stamped by alembic.

Why: Dagster's SQLite run and schedule storages open their file through `from_local`, which asks
alembic for the file's revision and for the migration scripts' head revision. The head revision
loads and executes every migration script (~90 Python files; ~0.03-0.05 CPU-s on this machine under
load, a quarter of the CLI's instance set-up on an existing home: docs/benchmarks.md,
twenty-eighth round), yet `from_local` only tests that both revisions are set: a stamped file is
used as it is (Dagster migrates only through `dagster instance migrate`), an unstamped one is
created and stamped. The head is set whenever Dagster is installed, so a stamped file needs no look
at the scripts; every other file still goes through `from_local` (`orchestration/pooled_sqlite.py`,
`orchestration/deferred_schedules.py`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import sqlalchemy as db
from alembic.runtime.migration import MigrationContext
from sqlalchemy.pool import NullPool


def stamped(path: str, tables: Iterable[str] = ()) -> bool:
    """True when the SQLite file at `path` exists, records an alembic revision and has `tables`.

    Never creates the file: a missing one is False, like any file this cannot read.
    """
    if not os.path.isfile(path):
        return False
    engine = db.create_engine(f"sqlite:///{path}", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            if not MigrationContext.configure(conn).get_current_revision():
                return False
            present = set(db.inspect(conn).get_table_names())
    except db.exc.SQLAlchemyError:
        return False
    finally:
        engine.dispose()
    return all(table in present for table in tables)
