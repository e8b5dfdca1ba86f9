"""Write one finished full sync into a `.c1z`: rows checked and streamed into SQLite, grants sorted.

Why this shape:
- Rows arrive as iterables in the order users, groups, entitlements, grants, so a million grant
  rows are never held at once: the ids of users and groups (for the referential checks) and one
  pre-encoded principal field per user stay in memory, and grants are collected as 4-byte user
  numbers per group, then inserted sorted by (entitlement, principal). A group's entitlement field
  (which holds the group resource, so its names) is cut from its stored entitlement as its grants
  are inserted, one group at a time.
- The database is built beside the target with journaling and fsync off (it is scratch until it is
  compressed), then closed cleanly (WAL mode recorded as in baton-sdk's files, no -wal file left),
  compressed into a second temporary file, fsynced and renamed over the target. Any exception
  removes the temporary files and leaves the target untouched.
- Where the time goes for a million grants (bench/c1z_write.py): SQLite inserting the grants (rows
  of ~900 bytes) and appending to three of their indexes, which are created before the insert
  because the rows come in their key order; building the one index in another order (principal)
  and compression; then Python checking and collecting the grants and encoding the users. Grant
  rows are assembled by SQLite itself from pre-encoded parts (see `_user_grants_insert`), users are
  encoded from bytes (see encode.py), not message objects. Pages of 64 KiB make the remaining index
  builds' table scans cheap; a small page cache during the appends avoids page faults for nothing,
  a 32 MiB one during CREATE INDEX lets the sorter spill sorted runs and merge them on two cores.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import sqlite3
import tempfile
import time
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.arrow_arrays import int32_values, string_array, true_array
from pipelines.c1z import encode, schema
from pipelines.c1z.container import compress_database
from pipelines.c1z.errors import C1ZWriteError
from pipelines.c1z.ids import entitlement_id, grant_id, member_description, member_display_name
from pipelines.c1z.limits import ENTITLEMENT_DESCRIPTION, ENTITLEMENT_DISPLAY_NAME, shorten
from pipelines.c1z.rows import (
    EntitlementRow,
    GrantColumns,
    GrantRow,
    GroupRow,
    UserRow,
)
from pipelines.c1z.sync_ids import format_sync_time, new_ksuid
from pipelines.halt import unless_halted

log = logging.getLogger(__name__)

RESOURCE_TYPE_IDS = (encode.USER_TYPE, encode.GROUP_TYPE)
_PHASES = ("users", "groups", "entitlements", "grants")
_RESOURCE_INSERT = "insert into v1_resources (resource_type_id, external_id, data, sync_id, discovered_at)"
_ENTITLEMENT_INSERT = (
    "insert into v1_entitlements (resource_type_id, resource_id, external_id, data, sync_id, discovered_at)"
)
_GRANT_INSERT = (
    "insert into v1_grants (resource_type_id, resource_id, entitlement_id, principal_resource_type_id, "
    "principal_resource_id, external_id, expansion, needs_expansion, data, sync_id, discovered_at) "
    "values ('group', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# bound values per insert batch of users, groups or entitlements: 8,192 users' messages (~13 MB at
# scale L; 131,072 values held all 100,000 users' bytes, ~100 MB, until one insert at the end)
_BATCH_VALUES = 16_384
# ... and at most this many bytes of messages: 8,192 users of 10 KB names held ~250 MB (groups and
# entitlements alike: 5,000 groups of 20 KB names held ~200 MB each)
_BATCH_BYTES = 16 * 2**20
_ROWS_PER_INSERT = 32  # rows per INSERT statement of users
_GRANTS_PER_STATEMENT = 16_384  # user grants per INSERT ... SELECT (members of one group)
_TIME_REFRESH_ROWS = 65_536  # user grants between refreshes of discovered_at
# Grant indexes whose keys arrive in ascending order (grants are inserted sorted), or that stay empty:
# created before the grants, so that SQLite appends to them instead of sorting a million keys after.
_INDEXES_BEFORE_GRANTS = frozenset(
    (
        "idx_grants_resource_type_id_resource_id_v1",
        "idx_grants_entitlement_id_principal_id_v1",
        "idx_grants_external_sync_v1",
        "idx_grants_sync_expansion_v1",
        "idx_grants_sync_needs_expansion_v1",
    )
)
_SAFE_LITERAL = re.compile(r"[0-9A-Za-z :.\-]+")
_PAGE_SIZE = 65_536  # fewer, larger pages: the index builds scan the grants table ~3x faster
_INSERT_CACHE_KIB = 16_384  # rows are appended; a big cache only costs page faults while inserting
_INDEX_CACHE_KIB = 32_768  # small enough that the sorter spills sorted runs, made on `threads` cores


@dataclass(frozen=True)
class C1ZWriteResult:
    """What was written: the caller records it (sync id, size, counts) as run metadata."""

    path: Path
    sync_id: str
    bytes: int
    started_at: datetime
    ended_at: datetime
    counts: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)  # wall seconds per phase (`C1ZWriter.timings`)


class C1ZWriter:
    """Streaming writer of one sync; use as a context manager and call `finish()` to publish.

    Leaving the block without `finish()` (or by an exception) discards everything.
    """

    def __init__(self, path: str | Path, *, started_at: datetime | None = None, sync_id: str | None = None):
        self.path = Path(path)
        self.started_at = (started_at or datetime.now()).astimezone()
        self.sync_id = sync_id or new_ksuid(self.started_at)
        self._phase = -1
        self._db_path: Path | None = None
        self._out_path: Path | None = None
        self._conn: sqlite3.Connection | None = None
        self._users: dict[str, bytes] = {}  # user id -> pre-encoded grant principal field
        # group id -> (display name, serialized resource), both dropped once its entitlement is written
        self._groups: dict[str, tuple[str, bytes]] = {}
        self._group_principals: dict[str, bytes] = {}
        self._grant_entitlements: dict[str, _GrantEntitlement] = {}  # group id -> its grants' entitlement
        self._indexed: set[str] = set()  # CREATE INDEX statements already run
        self._resource_types = {t: encode.resource_type_message(t) for t in RESOURCE_TYPE_IDS}
        self.counts = {name: 0 for name in ("resource_types", *_PHASES, "grants_needing_expansion")}
        # Wall seconds per phase (users, groups, entitlements, grants, indexes, close, compression), for
        # benchmarks and logs: rows are streamed, so a row phase includes producing its input rows.
        self.timings: dict[str, float] = {}

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> C1ZWriter:
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True)
        with unless_halted():  # an interrupted sync's clean-up sees every temporary file (pipelines/halt.py)
            fd, db_name = tempfile.mkstemp(dir=directory, prefix=f".{self.path.name}.", suffix=".db.tmp")
        os.close(fd)
        self._db_path = Path(db_name)
        try:
            self._conn = sqlite3.connect(self._db_path, isolation_level=None)
            _require_json(self._conn)
            self._conn.execute(f"pragma page_size={_PAGE_SIZE}")
            for pragma in ("journal_mode=OFF", "synchronous=OFF", "locking_mode=EXCLUSIVE"):
                self._conn.execute(f"pragma {pragma}")
            self._conn.execute(f"pragma cache_size=-{_INSERT_CACHE_KIB}")
            self._conn.execute("pragma threads=2")  # lets CREATE INDEX sort on two cores
            self._conn.execute("begin")
            for statement in schema.CREATE_TABLES:
                self._conn.execute(statement)
            now = self._now()
            self._conn.executemany(
                "insert into v1_resource_types (external_id, data, sync_id, discovered_at) "
                "values (?, ?, ?, ?)",
                [(t, encode.serialize(m), self.sync_id, now) for t, m in self._resource_types.items()],
            )
            self.counts["resource_types"] = len(self._resource_types)
        except BaseException:
            self._discard()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._discard()

    def _discard(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None
        for leftover in (self._db_path, self._out_path):
            if leftover is not None:
                for suffix in ("", "-journal", "-wal", "-shm"):
                    path = leftover.with_name(leftover.name + suffix)
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
        self._db_path = self._out_path = None

    # --- rows --------------------------------------------------------------------------------

    def _now(self) -> str:
        return format_sync_time(datetime.now())

    def _enter_phase(self, name: str) -> sqlite3.Connection:
        if self._conn is None:
            raise C1ZWriteError("writer is not open (use it as a context manager)")
        index = _PHASES.index(name)
        if index <= self._phase:
            raise C1ZWriteError(f"{name} must be added once, in the order {', '.join(_PHASES)}")
        self._phase = index
        return self._conn

    def add_users(self, users: Iterable[UserRow]) -> None:
        conn = self._enter_phase("users")
        started = time.perf_counter()
        row = f"('user', ?, ?, {_literal(self.sync_id)}, {_literal(self._now())})"
        known = self._users
        resource_bytes = encode.user_resource_bytes
        principal_field = encode.user_principal_field
        batch = _Batch(conn, _RESOURCE_INSERT, row, 2)  # external id and data of each user
        add = batch.add
        for user in users:
            user_id = user.user_id
            if user_id in known:
                raise C1ZWriteError(f"duplicate user id {user_id!r}")
            known[user_id] = principal_field(user_id)
            add(resource_bytes(user), "user:" + user_id)
        batch.flush()
        self.counts["users"] = len(known)
        self.timings["users"] = time.perf_counter() - started

    # Alike in shape to add_users on purpose: each is a hot loop with its own locals and per-row
    # work; what they share is the insert batch (`_Batch`), one call per row.
    def add_groups(self, groups: Iterable[GroupRow]) -> None:
        conn = self._enter_phase("groups")
        started = time.perf_counter()
        row = f"('group', ?, ?, {_literal(self.sync_id)}, {_literal(self._now())})"
        known = self._groups
        resource_bytes = encode.group_resource_bytes
        batch = _Batch(conn, _RESOURCE_INSERT, row, 2)  # external id and data of each group
        add = batch.add
        for group in groups:
            group_id = group.group_id
            if group_id in known:
                raise C1ZWriteError(f"duplicate group id {group_id!r}")
            data = resource_bytes(group)
            known[group_id] = (group.display_name, data)
            add(data, "group:" + group_id)
        batch.flush()
        self.counts["groups"] = len(known)
        self.timings["groups"] = time.perf_counter() - started

    def add_entitlements(self, entitlements: Iterable[EntitlementRow] | None = None) -> None:
        """None: one default `member` entitlement per group (`mapping.grant.entitlement_for_group`'s
        name and description, shortened to C1's limits)."""
        conn = self._enter_phase("entitlements")
        started = time.perf_counter()
        if entitlements is None:
            entitlements = (
                EntitlementRow(
                    group_id=gid,
                    display_name=shorten(member_display_name(name), ENTITLEMENT_DISPLAY_NAME.max_bytes),
                    description=shorten(member_description(name), ENTITLEMENT_DESCRIPTION.max_bytes),
                )
                for gid, (name, _) in self._groups.items()
            )
        row = f"('group', ?, ?, ?, {_literal(self.sync_id)}, {_literal(self._now())})"
        resource_types = {t: encode.serialize(m) for t, m in self._resource_types.items()}
        batch = _Batch(conn, _ENTITLEMENT_INSERT, row, 3)  # group id, entitlement id and data of each
        for entitlement in entitlements:
            ent_id = entitlement_id(entitlement.group_id)
            group = self._groups.get(entitlement.group_id)
            if group is None:
                raise C1ZWriteError(f"entitlement {ent_id!r} names unknown group {entitlement.group_id!r}")
            if entitlement.group_id in self._grant_entitlements:
                raise C1ZWriteError(f"duplicate entitlement id {ent_id!r}")
            unknown = [t for t in entitlement.grantable_to if t not in resource_types]
            if unknown:
                raise C1ZWriteError(f"entitlement {ent_id!r} is grantable to unknown types {unknown}")
            grantable = [resource_types[t] for t in entitlement.grantable_to]
            self._grant_entitlements[entitlement.group_id] = _GrantEntitlement(
                ent_id,
                ent_id + ":user:",
                len(self._grant_entitlements) + 1,  # its rowid: rows are appended to an empty table
                encode.entitlement_head_size(len(group[1]), ent_id),
            )
            data = encode.entitlement_bytes(entitlement, group[1], grantable)
            # the grants need the group's id, not its name and bytes (each grant's entitlement field
            # is cut from the entitlement's row when they are inserted): 5,000 groups of 20 KB
            # names held 100 MB of names and 300 MB of bytes through the grants phase
            self._groups[entitlement.group_id] = _ENTITLED
            batch.add(data, entitlement.group_id, ent_id)
        batch.flush()
        self.counts["entitlements"] = len(self._grant_entitlements)
        self.timings["entitlements"] = time.perf_counter() - started

    def _principal_field(self, grant: GrantRow, the_id: str) -> bytes:
        if grant.principal_type == encode.USER_TYPE:
            principal = self._users.get(grant.principal_id)
            if principal is None:
                raise C1ZWriteError(f"grant {the_id!r}: unknown principal user {grant.principal_id!r}")
            if grant.expandable:
                raise C1ZWriteError(f"grant {the_id!r}: only group principals can be expandable")
            return principal
        if grant.principal_type == encode.GROUP_TYPE:
            principal = self._group_principals.get(grant.principal_id)
            if principal is None:
                if grant.principal_id not in self._groups:
                    raise C1ZWriteError(f"grant {the_id!r}: unknown principal group {grant.principal_id!r}")
                principal = encode.grant_principal_field(encode.GROUP_TYPE, grant.principal_id)
                self._group_principals[grant.principal_id] = principal
            return principal
        raise C1ZWriteError(f"grant {the_id!r}: unknown principal type {grant.principal_type!r}")

    def add_grants(self, grants: Iterable[GrantRow]) -> None:
        """Check and collect the grants, then insert them sorted by (entitlement id, principal id).

        In that order, three of the four grant indexes receive their keys in ascending order, so they
        are created before the insert and SQLite appends to them (cheaper than sorting for them
        afterwards; so are the two partial indexes, which saves two table scans); only the principal
        index is built after the insert. The input is first consumed into one array of 4-byte user
        numbers per group (users numbered in id order), a few MB for a million grants; grants of group
        principals, or expandable ones, are rare and encoded as they arrive, then inserted last.
        Duplicates are found here (they are adjacent once sorted), before the unique index refuses them.
        """
        conn = self._enter_phase("grants")
        started = time.perf_counter()
        collected = _CollectedGrants(sorted(self._users))
        self._collect_rows(grants, collected)
        self._insert_collected(conn, collected)
        self.timings["grants"] = time.perf_counter() - started

    def add_grant_columns(self, batches: Iterable[pa.RecordBatch]) -> None:
        """`add_grants` for grants as Arrow batches with GrantRow's columns (a database's result).

        Grants to users are collected without a Python step per grant: their group and user ids are
        kept as columns, looked up once at the end (`index_in`: one hash of the user ids, not one per
        batch), sorted and split per group, instead of a million tuples built and checked one by one.
        Other grants (to a group, expandable) take `add_grants`' path as they come. An id that is
        not known is reported with `add_grants`' message; with several wrong grants, the one reported
        may differ (grants to groups are checked first).
        """
        conn = self._enter_phase("grants")
        started = time.perf_counter()
        collected = _CollectedGrants(sorted(self._users))
        group_ids = sorted(self._grant_entitlements)
        user_group_ids: list[pa.Array] = []
        user_principal_ids: list[pa.Array] = []
        for batch in batches:
            is_user = pc.and_(  # is_in gives false for null, so neither side is null
                pc.is_in(batch.column("principal_type"), value_set=_USER_TYPE),
                pc.invert(pc.is_in(batch.column("expandable"), value_set=_TRUE)),
            )
            users = batch.filter(is_user)
            user_group_ids.append(users.column("group_id"))
            user_principal_ids.append(users.column("principal_id"))
            if len(users) < len(batch):
                self._collect_rows(_grant_rows(batch.filter(pc.invert(is_user))), collected)
        gids = pa.chunked_array(user_group_ids, type=pa.string())
        pids = pa.chunked_array(user_principal_ids, type=pa.string())
        group_numbers = pc.index_in(gids, value_set=string_array(group_ids))
        user_numbers = pc.index_in(pids, value_set=string_array(collected.user_ids))
        if group_numbers.null_count or user_numbers.null_count:
            wrong = pc.index(pc.or_(pc.is_null(group_numbers), pc.is_null(user_numbers)), True).as_py()
            grant = GrantRow(gids[wrong].as_py(), "user", pids[wrong].as_py())  # type: ignore[arg-type]
            self._collect_rows([grant], collected)  # raises its message
            raise C1ZWriteError(f"grant {grant!r} names an unknown group or user")  # pragma: no cover
        if len(gids):
            user_count = max(len(collected.user_ids), 1)
            keys = int32_values(group_numbers).astype(np.int64) * user_count + int32_values(user_numbers)
            keys.sort()
            bounds = np.flatnonzero(np.diff(keys // user_count)) + 1
            for part in np.split(keys, bounds):
                group_number = int(part[0] // user_count)
                numbers = array("I", (part - group_number * user_count).astype(np.uint32).tobytes())
                collected.members[group_ids[group_number]] = numbers
        self._insert_collected(conn, collected)
        self.timings["grants"] = time.perf_counter() - started

    def _collect_rows(self, grants: Iterable[GrantRow], collected: _CollectedGrants) -> None:
        """Check grants one by one into `collected`. Runs a million times: everything is bound to locals."""
        entitlements = self._grant_entitlements
        user_numbers = collected.user_numbers
        members = collected.members
        other_rows = collected.other_rows
        group_id: object = _NO_GROUP  # not None: a null group id must be checked like any other
        add_member = array("I").append
        user_prefix = ""

        for grant in grants:
            gid, principal_type, principal_id, expandable = grant
            if gid != group_id:
                entry = entitlements.get(gid)
                if entry is None:
                    the_id = grant_id(gid, principal_type, principal_id)
                    reason = "no member entitlement for group" if gid in self._groups else "unknown group"
                    raise C1ZWriteError(f"grant {the_id!r}: {reason} {gid!r}")
                user_prefix = entry.user_prefix
                group_members = members.get(gid)
                if group_members is None:
                    group_members = members[gid] = array("I")
                add_member = group_members.append
                group_id = gid
            if principal_type == "user" and not expandable:
                try:
                    add_member(user_numbers[principal_id])
                except KeyError:
                    the_id = f"{user_prefix}{principal_id}"
                    raise C1ZWriteError(
                        f"grant {the_id!r}: unknown principal user {principal_id!r}"
                    ) from None
            else:
                other_rows.append(self._other_grant_row(grant))

    def _insert_collected(self, conn: sqlite3.Connection, collected: _CollectedGrants) -> None:
        """Insert the collected grants (users' sorted per group, then the others) and count them."""
        members, other_rows, user_ids = collected.members, collected.other_rows, collected.user_ids
        collected.drop_user_numbers()
        sync_id = self.sync_id
        for statement in schema.CREATE_INDEXES:
            if statement.split(" on ", 1)[0].rsplit(" ", 1)[1] in _INDEXES_BEFORE_GRANTS:
                conn.execute(statement)
                self._indexed.add(statement)
        try:
            number = self._insert_user_grants(conn, members, user_ids)
            seen: set[object] = set()
            for row in other_rows:
                if row[4] in seen:
                    raise C1ZWriteError(f"duplicate id {row[4]!r} in v1_grants")
                seen.add(row[4])
            now = self._now()
            for gid, rows in groupby(other_rows, key=itemgetter(0)):  # in the order they came
                head = self._entitlement_field(conn, self._grant_entitlements[gid])
                conn.executemany(_GRANT_INSERT, [(*row[:7], head + row[7], sync_id, now) for row in rows])
        except sqlite3.IntegrityError as exc:  # ids that collide although their parts differ ("a:b")
            raise C1ZWriteError(f"duplicate grant id in v1_grants ({exc})") from None
        self.counts["grants"] = number + len(other_rows)

    def _insert_user_grants(
        self, conn: sqlite3.Connection, members: dict[str, array[int]], user_ids: list[str]
    ) -> int:
        """Insert the user grants sorted by (entitlement id, user id), assembled by SQLite; returns how many.

        The users go into a temporary table (rowid = user number) with their id, pre-encoded principal
        field and id length; then one INSERT ... SELECT per group (or per `_GRANTS_PER_STATEMENT` of
        its members) joins a JSON array of the group's sorted user numbers with it and builds every
        column, `data` included, from the group's bound parts. Python touches no row: a million grants
        cost no Python objects, and no bound values per row (binding and copying a ~700-byte `data`
        per row was most of the insert).
        """
        entitlements = self._grant_entitlements
        users = self._users
        longest = max((len(user_id.encode()) for user_id in user_ids), default=0)
        conn.execute(
            "create temp table grant_users (user_id text not null, tail blob not null, size integer)"
        )
        conn.execute("pragma temp.cache_size=-32768")  # lookups by rowid stay in memory
        values: list[object] = []
        for number, user_id in enumerate(user_ids):
            values += (number, user_id, users[user_id] + b"\x1a", len(user_id.encode()))
        _insert_flat(
            conn, "insert into temp.grant_users (rowid, user_id, tail, size)", "(?, ?, ?, ?)", 4, values
        )
        inserted = total = 0
        statement = ""
        for gid in sorted(members, key=lambda g: entitlements[g].ent_id):
            entry = entitlements[gid]
            ent_id, user_prefix = entry.ent_id, entry.user_prefix
            ordered = sorted(members.pop(gid))
            if len(set(ordered)) < len(ordered):
                duplicate = next(a for a, b in zip(ordered, ordered[1:], strict=False) if a == b)
                raise C1ZWriteError(f"duplicate id {user_prefix + user_ids[duplicate]!r} in v1_grants")
            total += len(ordered)
            prefix_size = len(user_prefix.encode())
            if prefix_size + longest >= 1 << 21:
                raise C1ZWriteError(
                    f"grant ids of group {gid!r} are too long ({prefix_size + longest} bytes)"
                )
            entitlement_field = self._entitlement_field(conn, entry)
            for start in range(0, len(ordered), _GRANTS_PER_STATEMENT):
                if not statement or inserted >= _TIME_REFRESH_ROWS:
                    statement = _user_grants_insert(self.sync_id, self._now())
                    inserted = 0
                part = ordered[start : start + _GRANTS_PER_STATEMENT]
                numbers = orjson.dumps(part).decode()
                conn.execute(statement, (gid, ent_id, user_prefix, entitlement_field, prefix_size, numbers))
                inserted += len(part)
        conn.execute("drop table temp.grant_users")
        return total

    def _entitlement_field(self, conn: sqlite3.Connection, entry: _GrantEntitlement) -> bytes:
        """Grant field 1 of one group's grants, cut from its entitlement's row: built when they are
        inserted, not held for every group through the grants phase (it holds the group resource)."""
        found = conn.execute(
            "select substr(data, 1, ?) from v1_entitlements where id = ?", (entry.head_size, entry.row)
        ).fetchone()
        if found is None or len(found[0]) != entry.head_size:  # pragma: no cover - rows are only appended
            raise C1ZWriteError(f"entitlement {entry.ent_id!r} is not row {entry.row} of v1_entitlements")
        return encode.length_delimited(1, found[0])

    def _other_grant_row(self, grant: GrantRow) -> tuple[object, ...]:
        """The bound values (all but sync id and time) of a grant to a group, or an expandable one;
        the last is its `data` without field 1 (`_entitlement_field`, added when it is inserted)."""
        gid, principal_type, principal_id, expandable = grant
        ent_id = self._grant_entitlements[gid].ent_id
        the_id = grant_id(gid, principal_type, principal_id)
        principal = self._principal_field(grant, the_id)
        expansion = None
        if expandable:
            expansion = encode.expansion_bytes(principal_id)
            self.counts["grants_needing_expansion"] += 1
        id_bytes = the_id.encode()
        data = b"".join((principal, b"\x1a", encode.varint(len(id_bytes)), id_bytes))
        return (
            gid,
            ent_id,
            principal_type,
            principal_id,
            the_id,
            expansion,
            int(expansion is not None),
            data,
        )

    # --- publish -----------------------------------------------------------------------------

    def _create_indexes(self, conn: sqlite3.Connection) -> None:
        for statement in schema.CREATE_INDEXES:
            if statement in self._indexed:
                continue
            try:
                conn.execute(statement)
            except sqlite3.IntegrityError:
                table = statement.split(" on ", 1)[1].split(" ", 1)[0]
                duplicate = conn.execute(
                    f"select external_id from {table} group by external_id, sync_id "
                    "having count(*) > 1 limit 1"
                ).fetchone()
                what = duplicate[0] if duplicate else "?"
                raise C1ZWriteError(f"duplicate id {what!r} in {table}") from None

    def finish(self) -> C1ZWriteResult:
        """Index, record the finished sync, compress, fsync and atomically rename over the target."""
        conn = self._conn
        if conn is None or self._db_path is None:
            raise C1ZWriteError("writer is not open (use it as a context manager)")
        for name in _PHASES[self._phase + 1 :]:
            if name == "entitlements":
                self.add_entitlements(None)
            else:
                getattr(self, f"add_{name}")(())
        started = time.perf_counter()
        conn.execute(f"pragma cache_size=-{_INDEX_CACHE_KIB}")
        self._create_indexes(conn)
        self.timings["indexes"] = time.perf_counter() - started
        started = time.perf_counter()
        ended_at = datetime.now().astimezone()
        conn.execute(
            "insert into v1_sync_runs (sync_id, started_at, ended_at, sync_token, sync_type, parent_sync_id, "
            "linked_sync_id, supports_diff, grants_backfilled) values (?, ?, ?, '', 'full', '', '', 1, 1)",
            (self.sync_id, format_sync_time(self.started_at), format_sync_time(ended_at)),
        )
        conn.execute("commit")
        # baton-sdk's files record WAL mode (header bytes 18-19 = 2, 2; its samples in shared/interop),
        # so ours do too. The switch writes only the header; closing checkpoints the (empty) log and
        # deletes it, and with the exclusive lock there is no -shm file: nothing is left beside the file.
        if conn.execute("pragma journal_mode=WAL").fetchone()[0] != "wal":
            raise C1ZWriteError("SQLite refused WAL journal mode for the finished database")
        conn.close()
        self._conn = None
        self.timings["close"] = time.perf_counter() - started
        started = time.perf_counter()

        with unless_halted():
            fd, out_name = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        self._out_path = Path(out_name)
        with os.fdopen(fd, "wb") as out:
            compress_database(self._db_path, out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(self._out_path, 0o600)
        with unless_halted():  # the target (a `.pending`) exists before an interrupt cleans up, or never
            os.replace(self._out_path, self.path)
        self._out_path = None
        _fsync_directory(self.path.parent)
        self.timings["compression"] = time.perf_counter() - started
        size = self.path.stat().st_size
        self._discard()
        log.info("wrote %s: sync %s, %d bytes, counts %s", self.path, self.sync_id, size, self.counts)
        return C1ZWriteResult(
            path=self.path,
            sync_id=self.sync_id,
            bytes=size,
            started_at=self.started_at,
            ended_at=ended_at,
            counts=dict(self.counts),
            timings=dict(self.timings),
        )


_NO_GROUP = object()
_ENTITLED = ("", b"")  # a group whose entitlement is written: its name and bytes are no longer needed


class _GrantEntitlement(NamedTuple):
    """What one group's grants need of its entitlement: its id, the grant id prefix of user
    principals, and where its `Entitlement{resource, id}` bytes are (row of v1_entitlements, size)."""

    ent_id: str
    user_prefix: str
    row: int
    head_size: int


# value sets of the column path's filter, built without `pa.scalar` (see pipelines/arrow_arrays.py)
_USER_TYPE = string_array([encode.USER_TYPE])
_TRUE = true_array()


class _CollectedGrants:
    """Grants checked and not yet inserted: user numbers per group, and the other grants' rows."""

    def __init__(self, user_ids: list[str]) -> None:
        self.user_ids = user_ids  # sorted: a user's number is its position
        self.members: dict[str, array[int]] = {}
        self.other_rows: list[tuple[object, ...]] = []

    @functools.cached_property
    def user_numbers(self) -> dict[str, int]:
        """Built only for the row path: the column path looks users up with `index_in`."""
        return {user_id: number for number, user_id in enumerate(self.user_ids)}

    def drop_user_numbers(self) -> None:
        """Free the lookup (a million grants' worth of dict) before the insert."""
        self.__dict__.pop("user_numbers", None)


def _grant_rows(batch: pa.RecordBatch) -> Iterator[GrantRow]:
    columns = [batch.column(name).to_pylist() for name in GrantRow._fields]
    return map(GrantRow._make, zip(*columns, strict=True))


def _literal(text: str) -> str:
    """A SQL string literal of our own text (a KSUID, a time); anything else is refused."""
    if not _SAFE_LITERAL.fullmatch(text):
        raise C1ZWriteError(f"unexpected characters in {text!r}")
    return f"'{text}'"


def _require_json(conn: sqlite3.Connection) -> None:
    """User grants are inserted through json_each (built into SQLite since 3.38, JSON1 before)."""
    try:
        conn.execute("select count(*) from json_each('[1]')").fetchone()
    except sqlite3.DatabaseError as exc:  # "no such table: json_each"
        raise C1ZWriteError(
            f"SQLite {sqlite3.sqlite_version} has no JSON functions ({exc}); the writer needs SQLite >= 3.38"
        ) from None


def _user_grants_insert(sync_id: str, discovered_at: str) -> str:
    """INSERT ... SELECT of one group's user grants; parameters: 1 group id, 2 entitlement id, 3 grant id
    prefix (`<entitlement id>:user:`), 4 pre-encoded grant field 1 (the entitlement), 5 UTF-8 length of
    the prefix, 6 JSON array of user numbers (rowids of temp.grant_users), ascending.

    `data` is `grant_bytes()`: field 1, the user's principal field and the id tag (`tail`), the id
    length as a varint (one to three bytes, cut from a 256-byte blob), the id. SQLite's `||` joins
    the bytes as they are (the database is UTF-8) and the cast makes the value a BLOB again.
    """
    n = "(?5 + u.size)"
    low, middle = f"substr({_BYTES}, ({n} & 127) + 129, 1)", f"substr({_BYTES}, (({n} >> 7) & 127) + 129, 1)"
    varint = (
        f"case when {n} < 128 then substr({_BYTES}, {n} + 1, 1) "
        f"when {n} < 16384 then {low} || substr({_BYTES}, ({n} >> 7) + 1, 1) "
        f"else {low} || {middle} || substr({_BYTES}, ({n} >> 14) + 1, 1) end"
    )
    return (
        "insert into v1_grants (resource_type_id, resource_id, entitlement_id, principal_resource_type_id, "
        "principal_resource_id, external_id, expansion, needs_expansion, data, sync_id, discovered_at) "
        "select 'group', ?1, ?2, 'user', u.user_id, ?3 || u.user_id, NULL, 0, "
        f"cast(?4 || u.tail || ({varint}) || ?3 || u.user_id as blob), "
        f"{_literal(sync_id)}, {_literal(discovered_at)} "
        "from json_each(?6) as j cross join temp.grant_users as u on u.rowid = j.value"
    )


_BYTES = "x'" + bytes(range(256)).hex() + "'"  # substr(_BYTES, b + 1, 1) is the byte b


class _Batch:
    """The bound values of one table's next inserts, flat, inserted (`_insert_flat`) once they reach
    `_BATCH_VALUES` values or `_BATCH_BYTES` bytes of messages, and by `flush()` at the end."""

    __slots__ = ("_conn", "_insert", "_row", "_width", "_values", "_held")

    def __init__(self, conn: sqlite3.Connection, insert: str, row: str, width: int) -> None:
        self._conn, self._insert, self._row, self._width = conn, insert, row, width
        self._values: list[object] = []
        self._held = 0  # bytes of the messages in `_values`

    def add(self, data: bytes, *keys: object) -> None:
        """One row: its `keys` (the values before `data` in `row`), then its message."""
        values = self._values
        values += keys
        values.append(data)
        self._held += len(data)
        if len(values) >= _BATCH_VALUES or self._held >= _BATCH_BYTES:
            self.flush()

    def flush(self) -> None:
        _insert_flat(self._conn, self._insert, self._row, self._width, self._values)
        self._held = 0


def _insert_flat(conn: sqlite3.Connection, insert: str, row: str, width: int, values: list[object]) -> int:
    """Insert rows of `width` bound values each from the flat `values` (emptied); returns the rows.

    Each statement is `insert` followed by `_ROWS_PER_INSERT` copies of `row`: SQLite's and the sqlite3
    module's cost per statement execution (reset, cursor opening, GIL hand-over) is then paid once per
    32 rows instead of once per row, ~40% of the insert of a million grants.
    """
    rows = len(values) // width
    chunk = _ROWS_PER_INSERT * width
    whole = len(values) - len(values) % chunk
    conn.executemany(
        f"{insert} values {', '.join([row] * _ROWS_PER_INSERT)}",
        [values[start : start + chunk] for start in range(0, whole, chunk)],
    )
    if whole < len(values):
        conn.execute(f"{insert} values {', '.join([row] * (rows % _ROWS_PER_INSERT))}", values[whole:])
    values.clear()
    return rows


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_c1z(
    path: str | Path,
    *,
    users: Iterable[UserRow],
    groups: Iterable[GroupRow],
    grants: Iterable[GrantRow] | GrantColumns,
    entitlements: Iterable[EntitlementRow] | None = None,
    started_at: datetime | None = None,
    sync_id: str | None = None,
) -> C1ZWriteResult:
    """Write one finished full sync to `path` atomically (see the module docstring).

    `entitlements=None` gives every group one `member` entitlement, "<group name> Group Member",
    described "Member of the <group name> group in xMatters", grantable to users. Raises
    `C1ZWriteError` (naming the offending id) on dangling or duplicate rows.
    """
    with C1ZWriter(path, started_at=started_at, sync_id=sync_id) as writer:
        writer.add_users(users)
        writer.add_groups(groups)
        writer.add_entitlements(entitlements)
        if isinstance(grants, GrantColumns):
            writer.add_grant_columns(grants.batches)
        else:
            writer.add_grants(grants)
        return writer.finish()
