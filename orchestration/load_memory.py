"""DuckDB's memory limit during dlt's extract and load: 128 MB, more for rows of long names.

Why: the load commits one vector of DuckDB's rows (2,048) with all their text pinned at once, so a
load of rows of B bytes of text needs ~2,048 x B bytes within the limit: member rows of 60 KB names
(123 MB a vector) failed the load at 128 MB ("TransactionContext Error: Failed to commit: failed to
pin block of size 256.0 KiB (121.9 MiB/122.0 MiB used)"), 52 KB ones passed; both the staging
insert and the replace's copy fail alike (docs/benchmarks.md, twenty-seventh round). 128 MB stays
the limit of every ordinary tenant (rows of a few hundred bytes): at 256 MB the load took the L
tree just over 1 GiB. The extract tells the widest row it hands to the load as it goes
(`ExtractReport.on_wider_rows`, from the extract's thread), before the load starts.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType
from typing import Any

DUCKDB_VECTOR_ROWS = 2_048  # rows of a DuckDB vector (a build constant)
_MB = 10**6  # DuckDB's MB (its MiB are 2**20)
LOAD_MEMORY_BYTES = 128 * _MB  # every ordinary tenant's load
# above a vector of the widest rows: 60 KB rows loaded at 155 MB, not at 128 (DuckDB 2.0.1)
LOAD_HEADROOM_BYTES = 32 * _MB
LOAD_MEMORY_CAP_BYTES = 256 * _MB  # the run's own limit: wider rows fail the load with its line

log = logging.getLogger("baton_xmatters")  # the CLI shows its lines


def _setting(limit_bytes: int) -> str:
    """`limit_bytes` as DuckDB's `memory_limit` setting."""
    return f"SET memory_limit = '{limit_bytes // _MB}MB'"


def load_memory_limit(widest_row_bytes: int) -> int:
    """Bytes of DuckDB memory for a load whose widest row holds `widest_row_bytes` of text."""
    needed = DUCKDB_VECTOR_ROWS * widest_row_bytes + LOAD_HEADROOM_BYTES
    return min(max(LOAD_MEMORY_BYTES, needed), LOAD_MEMORY_CAP_BYTES)


class LoadMemory:
    """DuckDB's limit at LOAD_MEMORY_BYTES inside the block, `after` once it is left; `fit_rows`
    raises it (never lowers it) for the widest row extracted so far. The limit is the database's:
    `fit_rows` sets it through a cursor of its own, so another thread may call it."""

    def __init__(self, connection: Any, after: str) -> None:
        self._connection = connection
        self._after = after
        self._lock = threading.Lock()
        self._setter: Any = None
        self.limit = 0  # bytes; 0 outside the block

    def __enter__(self) -> LoadMemory:
        self._connection.execute(_setting(LOAD_MEMORY_BYTES))
        self._setter, self.limit = self._connection.cursor(), LOAD_MEMORY_BYTES
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with self._lock:
            self.limit = 0
            self._setter.close()
        self._connection.execute(f"SET memory_limit = '{self._after}'")

    def fit_rows(self, widest_row_bytes: int) -> None:
        limit = load_memory_limit(widest_row_bytes)
        with self._lock:
            if not self.limit or limit <= self.limit:
                return
            self.limit = limit
            self._setter.execute(_setting(limit))
        log.info(
            "load: DuckDB's memory for the load %d MB (rows of up to %d bytes)",
            limit // _MB,
            widest_row_bytes,
        )
