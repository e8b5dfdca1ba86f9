"""What an extract did, for the caller to read after the run.

dlt runs the resources inside `pipeline.run`, so the caller cannot see their return values; it
passes an `ExtractReport` into the source instead and reads it afterwards. Counters are updated
from the member-call threads, hence the lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from pipelines.arrow_arrays import byte_lengths
from pipelines.xmatters.scrub import scrub
from pipelines.xmatters.settings import GROUP_MEMBERS, GROUPS, PEOPLE


class SkippedGroup(NamedTuple):
    """A group whose members could not be read (deleted mid-sync): kept, with no memberships.

    `rows_sent`: member rows of a long listing handed on before the group went (`member_calls`);
    the loader removes them from the raw table.
    """

    group_id: str
    name: str | None
    reason: str
    rows_sent: int = 0

    def warning(self) -> str:
        return kept_without_members(self.group_id, self.name, self.reason)


def kept_without_members(group_id: str, name: str | None, reason: str) -> str:
    """The one wording of a group deleted during the sync, for every place that tells of it: the
    extract's log, the Dagster log, the CLI's summary and the raw pipeline's output. The group is
    not skipped: its row, C1 resource and entitlement stay; it only gets no members (no grants).
    Server text is scrubbed (`scrub.py`): the name and the reason may hold control characters."""
    label = f"{name} ({group_id})" if name else group_id
    return scrub(f"group {label} kept without members (deleted during the sync): {reason}")


@dataclass
class ExtractReport:
    rows: dict[str, int] = field(default_factory=dict)  # by raw resource name (settings.RawTable.name)
    requests: int = 0
    retries: int = 0
    duplicates_dropped: int = 0
    skipped_groups: list[SkippedGroup] = field(default_factory=list)
    # by raw resource name: (column, bytes) of the widest text handed to the load
    widest: dict[str, tuple[str, int]] = field(default_factory=dict)
    widest_row: int = 0  # bytes of the text of the widest row handed to the load, any table
    # told each time `widest_row` grows (from the thread that extracts): the raw step sizes DuckDB's
    # memory for the load by it (orchestration/resources.py, `WarehouseResource.load_memory`)
    on_wider_rows: Callable[[int], None] | None = field(default=None, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count_rows(self, resource: str, n: int) -> None:
        with self._lock:
            self.rows[resource] = self.rows.get(resource, 0) + n

    def note_widest(self, resource: str, table: pa.Table) -> None:
        """Keeps the widest text of `table`'s string columns, for a load that fails on it: DuckDB's
        line (`Failed to commit: failed to pin block ...`) names neither the field nor its size;
        and the widest row's text (all its string columns), by which the load's memory is sized."""
        row_bytes = np.zeros(table.num_rows, dtype=np.int64)
        for name, column in zip(table.column_names, table.columns, strict=True):
            if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
                continue
            lengths = byte_lengths(column)  # NumPy: pyarrow's null filling imported pandas
            row_bytes += lengths
            longest = int(lengths.max()) if len(lengths) else 0
            with self._lock:
                if longest > self.widest.get(resource, ("", -1))[1]:
                    self.widest[resource] = (name, longest)
        widest_row = int(row_bytes.max()) if len(row_bytes) else 0
        with self._lock:
            if widest_row <= self.widest_row:
                return
            self.widest_row = widest_row
        if self.on_wider_rows is not None:
            self.on_wider_rows(widest_row)

    def count_request(self) -> None:
        with self._lock:
            self.requests += 1

    def count_retry(self) -> None:
        with self._lock:
            self.retries += 1

    def count_duplicates(self, n: int) -> None:
        if n:
            with self._lock:
                self.duplicates_dropped += n

    def skip_group(self, skipped: SkippedGroup) -> None:
        with self._lock:
            self.skipped_groups.append(skipped)

    def counts(self) -> tuple[int, int, int]:
        """(requests, retries, duplicates dropped): what another process's calls add to this report."""
        with self._lock:
            return self.requests, self.retries, self.duplicates_dropped

    def add_counts(self, counts: tuple[int, int, int]) -> None:
        requests, retries, duplicates = counts
        with self._lock:
            self.requests += requests
            self.retries += retries
            self.duplicates_dropped += duplicates

    def summary(self) -> str:
        """One line for logs and run metadata."""
        return (
            f"{self.rows.get(PEOPLE.name, 0)} people, {self.rows.get(GROUPS.name, 0)} groups, "
            f"{self.rows.get(GROUP_MEMBERS.name, 0)} memberships; "
            f"{self.requests} requests, {self.retries} retries, "
            f"{self.duplicates_dropped} duplicate rows dropped, "
            f"{len(self.skipped_groups)} groups kept without members"
        )
