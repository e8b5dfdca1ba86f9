"""Read any v1 `.c1z` (ours or baton-sdk's) the way the `baton` CLI does.

The file is decompressed (with limits, see `container`) into a private temporary copy that SQLite
opens read-only and immutable; every id from the file is bound as a parameter, never spliced into
SQL, and nothing in the file is ever executed. The sync shown is the latest finished full sync,
else the latest unfinished one (baton-sdk's fallback), unless `sync_id` names another.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

from google.protobuf.message import DecodeError, Message

from pipelines.c1z.container import DEFAULT_MAX_DECODED_BYTES, decompress_to_file
from pipelines.c1z.encode import pack_any
from pipelines.c1z.errors import C1ZFormatError
from pipelines.c1z.proto import pb
from pipelines.c1z.summaries import (
    EntitlementSummary,
    GrantSummary,
    ResourceSummary,
    entitlement_summary,
    grant_summary,
    resource_summary,
    summarize_entitlement,
    summarize_grant,
    summarize_resource,
)
from pipelines.c1z.sync_ids import parse_sync_time

log = logging.getLogger(__name__)

_SQLITE_HEADER = b"SQLite format 3\x00"
_REQUIRED_TABLES = ("v1_resource_types", "v1_resources", "v1_entitlements", "v1_grants", "v1_sync_runs")
M = TypeVar("M", bound=Message)
S = TypeVar("S")
WHOLE_ROW_BYTES = 1 << 20  # rows up to 1 MiB are decoded whole for a console listing


def _decode(cls: type[M], data: bytes, table: str, row_id: int) -> M:
    try:
        return cls.FromString(data)
    except DecodeError as exc:
        raise C1ZFormatError(f"undecodable {cls.DESCRIPTOR.name} in {table} row {row_id}: {exc}") from None


def _require_plain_layout(conn: sqlite3.Connection, path: Path) -> None:
    """Refuses what baton-sdk's layout never has and what would run code on read: views, triggers,
    virtual tables, generated or hidden columns (a crafted `v1_grants.data` generated from an
    expression made a 470 KB file take 1.7 GB to list). Checked from the schema, before any row.
    """
    for kind, name, sql in conn.execute("select type, name, coalesce(sql, '') from sqlite_master"):
        if kind in ("view", "trigger"):
            raise C1ZFormatError(f"{path}: not a plain v1 c1z database (it holds a {kind}, {name!r})")
        if kind == "table" and sql.lstrip().upper().startswith("CREATE VIRTUAL"):
            raise C1ZFormatError(f"{path}: not a plain v1 c1z database ({name!r} is a virtual table)")
    for table in _REQUIRED_TABLES:
        for _cid, column, _type, _notnull, _default, _pk, hidden in conn.execute(
            f"pragma table_xinfo({table})"
        ):
            if hidden:
                raise C1ZFormatError(
                    f"{path}: not a plain v1 c1z database ({table}.{column} is a generated or hidden column)"
                )


class C1ZReader:
    """An opened `.c1z`; all queries are scoped to `self.sync_id`. Close it (or use `with`)."""

    def __init__(
        self,
        path: str | Path,
        *,
        sync_id: str | None = None,
        max_decoded_bytes: int = DEFAULT_MAX_DECODED_BYTES,
        tmp_dir: str | Path | None = None,
    ):
        self.path = Path(path)
        if self.path.is_dir():  # `-f` given the directory the file is in
            raise C1ZFormatError(f"{self.path}: is a directory, not a .c1z file")
        if not self.path.exists():
            raise C1ZFormatError(f"{self.path}: no such file")
        if not self.path.is_file():  # a device or a pipe: reading /dev/zero would never end
            raise C1ZFormatError(f"{self.path}: not a regular file")
        fd, name = tempfile.mkstemp(prefix="c1z-read-", suffix=".db", dir=tmp_dir)
        self._db_path: Path | None = Path(name)
        self._conn: sqlite3.Connection | None = None
        try:
            with os.fdopen(fd, "wb") as copy:
                decompress_to_file(self.path, copy, max_decoded_bytes=max_decoded_bytes)
            self._conn = self._open_database()
            self.sync_id = self._choose_sync(sync_id)
        except BaseException:
            self.close()
            raise
        self._has_expansion = "expansion" in self._columns("v1_grants")

    def _open_database(self) -> sqlite3.Connection:
        assert self._db_path is not None
        with self._db_path.open("rb") as db:
            if db.read(len(_SQLITE_HEADER)) != _SQLITE_HEADER:
                raise C1ZFormatError(f"{self.path}: the decompressed content is not a SQLite database")
        uri = f"file:{quote(str(self._db_path))}?mode=ro&immutable=1"
        conn = sqlite3.connect(uri, uri=True)
        try:
            tables = {row[0] for row in conn.execute("select name from sqlite_master where type = 'table'")}
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise C1ZFormatError(f"{self.path}: corrupt SQLite database ({exc})") from None
        missing = [t for t in _REQUIRED_TABLES if t not in tables]
        if missing:
            conn.close()
            raise C1ZFormatError(f"{self.path}: not a v1 c1z database (missing tables {', '.join(missing)})")
        try:
            _require_plain_layout(conn, self.path)
        except BaseException:
            conn.close()
            raise
        return conn

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
        if self._conn is None:
            raise C1ZFormatError(f"{self.path}: reader is closed")
        try:
            # A plain loop, not `yield from`: closing a half-read generator after the reader closed
            # would otherwise close the cursor of a closed connection and raise during finalization
            # (a traceback printed after the one-line error).
            for row in self._conn.execute(sql, params):  # noqa: UP028
                yield row
        except sqlite3.DatabaseError as exc:
            raise C1ZFormatError(f"{self.path}: corrupt SQLite database ({exc})") from None

    def _columns(self, table: str) -> list[str]:
        return [row[1] for row in self._query(f"pragma table_info({table})")]

    def _choose_sync(self, wanted: str | None) -> str:
        if wanted is not None:
            if next(self._query("select 1 from v1_sync_runs where sync_id = ?", (wanted,)), None) is None:
                raise C1ZFormatError(f"{self.path}: no sync with id {wanted!r}")
            return wanted
        finished = next(
            self._query(
                "select sync_id from v1_sync_runs where ended_at is not null and sync_type = 'full' "
                "order by ended_at desc, id desc limit 1"
            ),
            None,
        )
        if finished is not None:
            return str(finished[0])
        latest_unfinished = "select sync_id from v1_sync_runs where ended_at is null order by id desc limit 1"
        unfinished = next(self._query(latest_unfinished), None)
        if unfinished is None:
            raise C1ZFormatError(f"{self.path}: the file holds no sync")
        return str(unfinished[0])

    # --- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._db_path is not None:
            with contextlib.suppress(FileNotFoundError):
                self._db_path.unlink()
            self._db_path = None

    # The context-manager protocol, the same few lines as other closeable classes (`duplicates`
    # pairs them, e.g. member_calls.py's MemberProcess): nothing shared beyond the protocol.
    def __enter__(self) -> C1ZReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- content -----------------------------------------------------------------------------

    def syncs(self) -> list[dict[str, Any]]:
        """Every sync run in the file (all syncs, not just the chosen one), oldest first."""
        columns = set(self._columns("v1_sync_runs"))
        optional = [c for c in ("linked_sync_id", "supports_diff") if c in columns]
        sql = "select sync_id, started_at, ended_at, sync_token, sync_type, parent_sync_id"
        sql += "".join(f", {c}" for c in optional) + " from v1_sync_runs order by id"
        out = []
        for row in self._query(sql):
            record = {
                "id": row[0],
                "started_at": parse_sync_time(row[1]),
                "ended_at": parse_sync_time(row[2]),
                "sync_token": row[3],
                "sync_type": row[4],
                "parent_sync_id": row[5],
            }
            record.update(dict(zip(optional, row[6:], strict=True)))
            out.append(record)
        return out

    def resource_types(self) -> Iterator[pb.ResourceType]:
        sql = "select id, data from v1_resource_types where sync_id = ? order by id"
        for row_id, data in self._query(sql, (self.sync_id,)):
            yield _decode(pb.ResourceType, data, "v1_resource_types", row_id)

    def resources(self, resource_type: str | None = None) -> Iterator[pb.Resource]:
        if resource_type is None:
            sql = "select id, data from v1_resources where sync_id = ? order by id"
            rows = self._query(sql, (self.sync_id,))
        else:
            rows = self._query(
                "select id, data from v1_resources where sync_id = ? and resource_type_id = ? order by id",
                (self.sync_id, resource_type),
            )
        for row_id, data in rows:
            yield _decode(pb.Resource, data, "v1_resources", row_id)

    def entitlements(self) -> Iterator[pb.Entitlement]:
        sql = "select id, data from v1_entitlements where sync_id = ? order by id"
        for row_id, data in self._query(sql, (self.sync_id,)):
            yield _decode(pb.Entitlement, data, "v1_entitlements", row_id)

    def grants(self) -> Iterator[pb.Grant]:
        """Grants with any `expansion` column put back as a GrantExpandable annotation (as baton-sdk does)."""
        expansion = "expansion" if self._has_expansion else "null"
        sql = f"select id, data, {expansion} from v1_grants where sync_id = ? order by id"
        for row_id, data, expansion_bytes in self._query(sql, (self.sync_id,)):
            grant = _decode(pb.Grant, data, "v1_grants", row_id)
            if expansion_bytes is not None:
                expandable = _decode(pb.GrantExpandable, expansion_bytes, "v1_grants.expansion", row_id)
                grant.annotations.append(pack_any(expandable))
            yield grant

    # --- summaries: the fields a console table shows, a huge row read without decoding it ------

    def resource_summaries(self, resource_type: str | None = None) -> Iterator[ResourceSummary]:
        where = "" if resource_type is None else " and resource_type_id = ?"
        params = (self.sync_id,) if resource_type is None else (self.sync_id, resource_type)
        for row in self._summaries("v1_resources", where, params, pb.Resource, resource_summary):
            yield row if isinstance(row, ResourceSummary) else summarize_resource(row)

    def entitlement_summaries(self) -> Iterator[EntitlementSummary]:
        for row in self._summaries(
            "v1_entitlements", "", (self.sync_id,), pb.Entitlement, entitlement_summary
        ):
            yield row if isinstance(row, EntitlementSummary) else summarize_entitlement(row)

    def grant_summaries(self) -> Iterator[GrantSummary]:
        for row in self._summaries("v1_grants", "", (self.sync_id,), pb.Grant, grant_summary):
            yield row if isinstance(row, GrantSummary) else summarize_grant(row)

    def _summaries(
        self,
        table: str,
        where: str,
        params: tuple[Any, ...],
        cls: type[M],
        summarize: Callable[[Any, int], S],
    ) -> Iterator[M | S]:
        """Each row decoded (at C speed) when small; a row over `WHOLE_ROW_BYTES` summarized from
        SQLite's incremental blob I/O instead, so its size never sits in memory."""
        sql = (
            f"select id, case when length(data) <= {WHOLE_ROW_BYTES} then data end from {table} "
            f"where sync_id = ?{where} order by id"
        )
        assert self._conn is not None
        for row_id, data in self._query(sql, params):
            if data is not None:
                yield _decode(cls, data, table, row_id)
                continue
            try:
                with self._conn.blobopen(table, "data", row_id, readonly=True) as blob:
                    summary = summarize(blob, len(blob))
            except C1ZFormatError as exc:
                raise C1ZFormatError(
                    f"undecodable {cls.DESCRIPTOR.name} in {table} row {row_id}: {exc}"
                ) from None
            except sqlite3.Error as exc:
                raise C1ZFormatError(f"{self.path}: corrupt SQLite database ({exc})") from None
            yield summary

    def stats(self) -> dict[str, Any]:
        """Counts as `baton stats`: resources per resource type id, entitlements, grants."""
        per_type = {type_.id: 0 for type_ in self.resource_types()}
        for type_id, count in self._query(
            "select resource_type_id, count(*) from v1_resources where sync_id = ? group by resource_type_id",
            (self.sync_id,),
        ):
            per_type[type_id] = count
        return {
            "resource_types": per_type,
            "entitlements": self._count("v1_entitlements"),
            "grants": self._count("v1_grants"),
        }

    def _count(self, table: str) -> int:
        return int(next(self._query(f"select count(*) from {table} where sync_id = ?", (self.sync_id,)))[0])


def is_expandable(grant: pb.Grant) -> bool:
    """True when the grant carries a GrantExpandable annotation (in `data` or restored from `expansion`)."""
    return any(a.Is(pb.GrantExpandable.DESCRIPTOR) for a in grant.annotations)


def open_c1z(
    path: str | Path,
    *,
    sync_id: str | None = None,
    max_decoded_bytes: int = DEFAULT_MAX_DECODED_BYTES,
) -> C1ZReader:
    """Open a `.c1z` for reading (a context manager); raises `C1ZFormatError` with a one-line reason."""
    return C1ZReader(path, sync_id=sync_id, max_decoded_bytes=max_decoded_bytes)
