"""One warehouse, one source: which xMatters tenant (its base URL) a warehouse's syncs read.

Every published sync records its source in `c1.sync_runs`: the base URL and, for the record, the
account it was read as. A sync of another tenant would make the change history and the "sudden
drop" check compare two tenants (thousands of fake grants added and removed), and replace a real
warehouse's tables. So a sync whose base URL differs from the warehouse's last published sync is
refused before any request and before anything is written, unless the user says it is meant
(`--new-source`, `SyncSettings.new_source`): then history and drop check start over from it.

The account is not part of the comparison: moving from a user and password to an API key
(`x-api-key-<id>`) of the same tenant is the same source, as C1 sees one connector; its history
goes on, and the drop check still catches a key that sees less (a narrower permission scope).
Warehouses of earlier versions, which compared the account too, need no migration: the stored
columns are the same. The password is never part of the source.

No Dagster import: the CLI checks this before it loads the orchestrator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import duckdb

from orchestration import sync_order
from orchestration.table_schema import column_names

SYNC_RUNS = "c1.sync_runs"
# The columns a warehouse of an earlier version lacks (added by publish.py's migration).
SOURCE_COLUMNS = {"source_url": "VARCHAR", "source_account": "VARCHAR"}


@dataclass(frozen=True)
class SyncSource:
    """A normalized base URL and the account (user name or API key id) it is read as.

    Two sources are equal when their URLs are: the account is shown, never compared.
    """

    url: str
    account: str = field(compare=False)

    @classmethod
    def of(cls, base_url: str, account: str) -> SyncSource:
        return cls(normalize_base_url(base_url), account)

    def __str__(self) -> str:
        return f"{self.url} (account {self.account})"


def normalize_base_url(url: str) -> str:
    """scheme and host lower-cased, the scheme's default port and a trailing slash dropped.

    `HTTPS://Company.xmatters.com:443/api/xm/1/` and `https://company.xmatters.com/api/xm/1` are
    one tenant; another host, port or path is another.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    default_port = {"https": 443, "http": 80}.get(scheme)
    port = f":{parts.port}" if parts.port is not None and parts.port != default_port else ""
    return f"{scheme}://{host}{port}{parts.path.rstrip('/')}"


class SourceChangedError(Exception):
    """This sync reads another tenant than the warehouse's last published sync (one line)."""

    def __init__(
        self, warehouse: str, previous: SyncSource, current: SyncSource, *, in_ui: bool = False
    ) -> None:
        remedy = (
            "set new_source: true in the sync_settings resource config (launchpad) to start a new history "
            "there, or use another warehouse"
            if in_ui
            else "use --new-source to start a new history there, or --warehouse for another file"
        )
        super().__init__(
            f"the warehouse {warehouse} holds syncs of {previous}; this sync reads {current}: {remedy}"
        )


def last_source(con: duckdb.DuckDBPyConnection) -> SyncSource | None:
    """The source of the newest published sync; None before the first one or when it is unknown
    (a warehouse written by a version that did not record sources)."""
    if not SOURCE_COLUMNS.keys() <= set(column_names(con, "c1", "sync_runs")):
        return None
    rows = con.execute(
        f"SELECT source_url, source_account FROM {SYNC_RUNS} ORDER BY {sync_order.newest_first(con)} LIMIT 1"
    ).fetchall()  # all: DuckDB refuses the connection's next statement while a result is unfinished
    if not rows or rows[0][0] is None:
        return None
    return SyncSource(rows[0][0], rows[0][1] or "")


def read_last_source(warehouse: Path) -> SyncSource | None:
    """`last_source` of a warehouse file, opened read-only; None when there is no file yet.

    A file another process is writing (a run started from the UI) cannot be opened here: then
    None, and the run itself checks again once it has the warehouse (the raw asset).
    """
    if not warehouse.is_file():
        return None
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error:
        return None
    try:
        return last_source(con)
    finally:
        con.close()


def is_new_source(previous: SyncSource | None, current: SyncSource) -> bool:
    """True when the warehouse holds syncs of a known tenant other than `current`'s (any account)."""
    return previous is not None and previous != current


def require_same_source(
    warehouse: str, previous: SyncSource | None, current: SyncSource, *, allow_new: bool, in_ui: bool = False
) -> None:
    """Raises `SourceChangedError` unless `current` is the warehouse's source (or a new one is allowed)."""
    if is_new_source(previous, current) and not allow_new:
        assert previous is not None
        raise SourceChangedError(warehouse, previous, current, in_ui=in_ui)
