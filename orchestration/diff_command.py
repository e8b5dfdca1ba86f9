"""`baton-xmatters diff`: what changed at recent syncs, read from the warehouse's change history.

`baton diff` compares the last two syncs of a `.c1z` and prints resources, entitlements and
grants created, deleted and modified. Our `.c1z` holds one sync (as C1 ingests it), but the
warehouse keeps every published sync's changes (`c1.access_changes`), so this prints the same
buckets per sync, for the newest N syncs or every sync since a given one, with names.
The warehouse is opened read-only, and nothing here imports Dagster: it starts in a blink.
"""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from orchestration import sync_order
from orchestration.history import CHANGE_KINDS, AccessChanges, other_tenant
from orchestration.paths import data_paths, user_path
from orchestration.preflight import warehouse_directory_message
from orchestration.sync_lock_reader import SyncHoldsLock, held_shared, lock_file_of
from orchestration.table_schema import column_names
from pipelines.argument_parser import non_empty
from pipelines.c1z.ids import MEMBER_SLUG, entitlement_id, member_display_name
from pipelines.duckdb_lock import lock_holder
from pipelines.terminal_text import printable, terminal_lines
from pipelines.utc_timestamps import rfc3339_utc

# Names that look alike on a terminal: the same after NFC, without format characters (Cf: zero-width
# spaces and joiners, soft hyphens, bidirectional marks). `_look` and `_LOOK_SQL` are the one key.
_LOOK_SQL = "regexp_replace(nfc_normalize({}), '\\p{{Cf}}', '', 'g')"
# per kind, the looks of display names that more than one id had at a sync or the one before it
_ALIKE_SQL = f"""
    SELECT 'user', look FROM (
        SELECT {_LOOK_SQL.format("display_name")} AS look, user_id AS id FROM c1.history_users
        WHERE sync_id IN (?, ?)
    ) GROUP BY look HAVING count(DISTINCT id) > 1
    UNION ALL
    SELECT 'group', look FROM (
        SELECT {_LOOK_SQL.format("display_name")} AS look, group_id AS id FROM c1.history_groups
        WHERE sync_id IN (?, ?)
    ) GROUP BY look HAVING count(DISTINCT id) > 1"""

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
NAMED_COLUMNS = {"changed_at", "group_name", "principal_type", "principal_name"}
# the order of a sync's lines: resources, then grants (as baton's diff output)
LINE_ORDER = (
    "group_added",
    "group_removed",
    "user_added",
    "user_removed",
    "user_activated",
    "user_deactivated",
    "user_hidden",
    "user_renamed",
    "group_renamed",
    "grant_added",
    "grant_removed",
)


class DiffError(Exception):
    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class SyncChanges:
    """One published sync and what changed since the sync before it (none for a baseline)."""

    sync_id: str
    published_at: Any
    source_url: str | None
    source_account: str | None
    previous_sync_id: str | None
    new_source: bool
    rows: list[dict[str, Any]] = field(default_factory=list)
    # (kind, `_look(name)`) of names more than one user or group had: shown with their ids
    alike: set[tuple[str, str]] = field(default_factory=set)

    def summary(self) -> str:
        counts = dict.fromkeys(CHANGE_KINDS, 0)
        for row in self.rows:
            counts[row["change"]] += 1
        return AccessChanges(self.sync_id, self.previous_sync_id, counts, self.new_source).summary()


def add_diff_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--last", type=int, metavar="N", help="the newest N published syncs (default 1)")
    which.add_argument(
        "--since", type=non_empty, metavar="SYNC_ID", help="every sync published after SYNC_ID"
    )
    parser.add_argument(
        "--warehouse",
        type=non_empty,
        help="the DuckDB warehouse (default $BATON_XMATTERS_HOME/warehouse.duckdb, home ./var)",
    )
    parser.add_argument(
        "-o",
        "--output-format",
        choices=("table", "console", "json"),
        default="table",
        help="table (default; console, baton's name for table, is the same) or json: baton diff's buckets",
    )


def run_diff(options: argparse.Namespace) -> int:
    warehouse = user_path(options.warehouse) if options.warehouse else data_paths().warehouse
    try:
        if options.last is not None and options.last < 1:
            raise DiffError(f"--last must be >= 1, got {options.last}", EXIT_USAGE)
        if not options.warehouse and not warehouse.exists():  # the default's: no flag to blame
            hint = "run a sync first, or give --warehouse"
            raise DiffError(f"no warehouse at {warehouse} ({hint})", EXIT_USAGE)
        syncs = read_changes(warehouse, last=options.last or 1, since=options.since)
    except DiffError as exc:
        print(f"baton-xmatters: error: {printable(str(exc))}", file=sys.stderr)
        return exc.code
    if options.output_format == "json":
        print(json.dumps([as_json(sync) for sync in syncs], indent=2, ensure_ascii=False))
    elif not syncs and options.since is not None:
        print(terminal_lines(f"no sync with change history published after {options.since}"))
    else:
        print(terminal_lines(render_table(syncs)))
    return EXIT_OK


def read_changes(warehouse: Path, *, last: int = 1, since: str | None = None) -> list[SyncChanges]:
    """The selected syncs, newest first, each with its change rows."""
    if (directory := warehouse_directory_message(warehouse)) is not None:
        raise DiffError(directory, EXIT_USAGE)
    if not warehouse.is_file():
        raise DiffError(f"--warehouse: no warehouse at {warehouse} (no sync has run there)", EXIT_USAGE)
    try:
        with held_shared(lock_file_of(warehouse)):  # a CLI sync starting meanwhile stops at once
            return _read_file(warehouse, last, since)
    except SyncHoldsLock as exc:
        raise DiffError(f"a sync is running on {warehouse} ({exc}); try again when it ends") from None


def _read_file(warehouse: Path, last: int, since: str | None) -> list[SyncChanges]:
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:
        holder = lock_holder(exc)
        if holder is not None:  # DuckDB's own line ends in advice a reader has already followed
            raise DiffError(
                f"the warehouse {warehouse} is being written by another process (PID {holder.pid}, "
                f"{holder.program}; a sync, most likely): try again when it ends"
            ) from None
        raise DiffError(
            f"cannot open the warehouse {warehouse} read-only: {str(exc).splitlines()[0]}"
        ) from None
    try:
        return _read(con, warehouse, last, since)
    finally:
        con.close()


def _kept(runs: list[tuple[Any, ...]], index: int) -> bool:
    """Whether the history still tells what changed at runs[index] (newest first).

    Retention (history_retention) keeps the newest syncs' snapshots and changes, so the kept syncs
    are the newest ones down to the oldest that still has rows. Beyond it, a sync with no users and
    no groups (an empty tenant) after a baseline, another tenant or another empty sync has nothing
    to keep: its empty snapshot and its "no changes" are true whatever retention dropped. Judged by
    rows alone, every sync of an empty tenant looked dropped: its baseline read "no sync with change
    history", and the sync that removed every user was left out of `diff`.
    """
    with_rows = [i for i, run in enumerate(runs) if run[4]]
    if with_rows and index <= with_rows[-1]:
        return True
    if not runs[index][5]:
        return False
    previous = runs[index + 1] if index + 1 < len(runs) else None
    return previous is None or previous[5] or other_tenant(runs[index][2], previous[2])


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return set(column_names(con, "c1", table))


def _read(con: duckdb.DuckDBPyConnection, warehouse: Path, last: int, since: str | None) -> list[SyncChanges]:
    run_columns = _columns(con, "sync_runs")
    if not run_columns:
        raise DiffError(f"no published sync in {warehouse} yet: nothing to diff")
    change_columns = _columns(con, "access_changes")
    if not change_columns >= NAMED_COLUMNS or "source_url" not in run_columns:
        raise DiffError(
            f"the history in {warehouse} was written by an earlier version: run one sync to update it"
        )
    runs = con.execute(
        f"""SELECT r.sync_id, r.published_at, r.source_url, r.source_account,
                  r.sync_id IN (SELECT sync_id FROM c1.history_groups
                                UNION SELECT sync_id FROM c1.history_users
                                UNION SELECT sync_id FROM c1.access_changes) AS has_rows,
                  coalesce(r.users, 0) = 0 AND coalesce(r.groups, 0) = 0 AS empty
           FROM c1.sync_runs AS r ORDER BY {sync_order.newest_first(con)}"""
    ).fetchall()
    position = {run[0]: i for i, run in enumerate(runs)}
    kept = [run for i, run in enumerate(runs) if _kept(runs, i)]
    if since is not None:
        if since not in position:
            raise DiffError(f"--since: no published sync {since} in {warehouse}", EXIT_USAGE)
        chosen = [run for run in kept if position[run[0]] < position[since]]
    else:
        chosen = kept[:last]
    result = []
    for run in chosen:
        index = position[run[0]]
        previous = runs[index + 1] if index + 1 < len(runs) else None
        new_source = previous is not None and other_tenant(run[2], previous[2])
        sync = SyncChanges(
            sync_id=run[0],
            published_at=run[1],
            source_url=run[2],
            source_account=run[3],
            previous_sync_id=None if previous is None or new_source else previous[0],
            new_source=new_source,
        )
        if sync.previous_sync_id is not None:
            # a warehouse no sync of this version has written yet has no renames (and no column)
            previous_name = "previous_display_name" if "previous_display_name" in change_columns else "NULL"
            cursor = con.execute(
                f"""SELECT change, object_type, object_id, group_id, group_name, principal_type, principal_id,
                          principal_name, display_name, {previous_name} AS previous_display_name
                   FROM c1.access_changes WHERE sync_id = ?
                   ORDER BY change, group_name, principal_name, display_name, object_id""",
                [sync.sync_id],
            )
            names = [d[0] for d in cursor.description]
            sync.rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
            sync.rows.sort(key=lambda row: LINE_ORDER.index(row["change"]))  # stable: names stay sorted
            sync.alike = _alike(con, sync)
        result.append(sync)
    return result


def _look(name: str) -> str:
    """What a terminal shows of `name`, as a key: NFC, without format characters (`_LOOK_SQL`)."""
    return "".join(c for c in unicodedata.normalize("NFC", name) if unicodedata.category(c) != "Cf")


def _alike(con: duckdb.DuckDBPyConnection, sync: SyncChanges) -> set[tuple[str, str]]:
    """The names that more than one id had, in the two syncs' snapshots or in the change rows (a
    snapshot older than the history's retention is gone; its names are still in the rows)."""
    both = [sync.sync_id, sync.previous_sync_id] * 2
    alike = {(kind, look) for kind, look in con.execute(_ALIKE_SQL, both).fetchall()}
    ids: dict[tuple[str, str], set[str]] = {}
    for row in sync.rows:
        named = [(row["principal_type"], row["principal_name"], row["principal_id"])]
        named.append(("group", row["group_name"], row["group_id"]))
        if row["object_type"] != "grant":
            named += [
                (row["object_type"], row[key], row["object_id"])
                for key in ("display_name", "previous_display_name")
            ]
        for kind, name, object_id in named:
            if kind is not None and name:
                ids.setdefault((kind, _look(name)), set()).add(object_id)
    return alike | {key for key, seen in ids.items() if len(seen) > 1}


def _named(kind: str, name: str | None, object_id: str, alike: set[tuple[str, str]]) -> str:
    """`name`, with the id when another user or group has a name that looks the same."""
    if not name:
        return object_id
    return f"{name} ({object_id})" if (kind, _look(name)) in alike else name


def _escaped(text: str) -> str:
    """`text` with every character outside printable ASCII as an escape (`\\u0301`)."""
    text = printable(text)
    return "".join(
        c if c.isascii() else f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}" for c in text
    )


def _form(text: str) -> str:
    if unicodedata.is_normalized("NFC", text):
        return "NFC"
    return "NFD" if unicodedata.is_normalized("NFD", text) else "mixed"


def _renamed(old: str | None, new: str | None, object_id: str) -> str:
    """`old -> new (id): renamed`; when the two print the same (other bytes, the same look: NFD and
    NFC forms, a zero-width space) both are shown escaped and the line says what differs."""
    if old is None or new is None or old == new or _look(old) != _look(new):
        return f"{old} -> {new} ({object_id}): renamed"
    if unicodedata.normalize("NFC", old) == unicodedata.normalize("NFC", new):
        what = f"only the Unicode normalisation differs: {_form(old)} -> {_form(new)}"
    else:
        what = "only invisible characters differ"
    return f"{_escaped(old)} -> {_escaped(new)} ({object_id}): renamed ({what})"


def _line(row: dict[str, Any], alike: set[tuple[str, str]]) -> str:
    change = row["change"]
    sign = "+" if change.endswith("_added") else "-" if change.endswith("_removed") else "~"
    kind = row["object_type"]
    if kind == "grant":
        member = _named(row["principal_type"], row["principal_name"], row["principal_id"], alike)
        if row["principal_type"] == "group":
            member = f"group {member}"
        text = f"{member} in {_named('group', row['group_name'], row['group_id'], alike)}"
    else:
        text = _named(kind, row["display_name"], row["object_id"], alike)
        if change in ("user_activated", "user_deactivated"):
            text += f": {change.removeprefix('user_')}"
        elif change == "user_hidden":
            text += ": no longer visible to the connector account"
        elif change.endswith("_renamed"):
            text = _renamed(row["previous_display_name"], row["display_name"], row["object_id"])
    return f"  {sign} {kind:<6} {text}"


def render_table(syncs: list[SyncChanges]) -> str:
    """Per sync, newest first: a header line with the summary, then one line per change."""
    if not syncs:
        return "no sync with change history in the selection"
    blocks = []
    for sync in syncs:
        since = f", since {sync.previous_sync_id}" if sync.previous_sync_id else ""
        source = f" of {sync.source_url} (account {sync.source_account})" if sync.new_source else ""
        header = f"sync {sync.sync_id}{source} published {_time(sync.published_at)}{since}: {sync.summary()}"
        blocks.append("\n".join([header, *(_line(row, sync.alike) for row in sync.rows)]))
    return "\n\n".join(blocks)


def _time(moment: Any) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC" if moment is not None else "(unknown time)"


def as_json(sync: SyncChanges) -> dict[str, Any]:
    """baton diff's buckets (resources, entitlements, grants: created/deleted/modified) for one sync."""
    resources: dict[str, list[dict[str, Any]]] = {"created": [], "deleted": [], "modified": []}
    entitlements: dict[str, list[dict[str, Any]]] = {"created": [], "deleted": [], "modified": []}
    grants: dict[str, list[dict[str, Any]]] = {"created": [], "deleted": []}
    for row in sync.rows:
        change, kind = row["change"], row["object_type"]
        bucket = (
            "created"
            if change.endswith("_added")
            else "deleted"
            if change.endswith("_removed")
            else "modified"
        )
        if kind == "grant":
            grants[bucket].append(
                {
                    "id": row["object_id"],
                    "entitlement_id": entitlement_id(row["group_id"]),
                    "group": {"id": row["group_id"], "display_name": row["group_name"]},
                    "principal": {
                        "resource_type": row["principal_type"],
                        "id": row["principal_id"],
                        "display_name": row["principal_name"],
                    },
                }
            )
            continue
        resource = {"resource_type": kind, "id": row["object_id"], "display_name": row["display_name"]}
        if bucket == "modified":
            resource["change"] = change
        if change.endswith("_renamed"):
            resource["previous_display_name"] = row["previous_display_name"]
        resources[bucket].append(resource)
        if kind == "group":
            entitlement = {
                "id": entitlement_id(row["object_id"]),
                "group_id": row["object_id"],
                "slug": MEMBER_SLUG,
            }
            if change == "group_renamed":  # the entitlement's name is the group's: "<name> Group Member"
                entitlement |= {
                    "change": change,
                    "display_name": member_display_name(row["display_name"] or row["object_id"]),
                    "previous_display_name": member_display_name(
                        row["previous_display_name"] or row["object_id"]
                    ),
                }
            entitlements[bucket].append(entitlement)
    return {
        "sync_id": sync.sync_id,
        "previous_sync_id": sync.previous_sync_id,
        "published_at": rfc3339_utc(sync.published_at) if sync.published_at is not None else None,
        "source": {"base_url": sync.source_url, "account": sync.source_account},
        "new_source": sync.new_source,
        "summary": sync.summary(),
        "resources": resources,
        "entitlements": entitlements,
        "grants": grants,
    }
