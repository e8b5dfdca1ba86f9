"""Access-change history: each published sync's snapshot, and what changed since the previous one.

Snapshots (`c1.history_users`, `c1.history_groups`, `c1.history_grants`) are written in the publish
transaction, so a snapshot exists exactly for each published sync; `c1.access_changes` is derived
from two snapshots and can always be recomputed. Only the newest `retention` syncs are kept.
A sync of another source than the one before it (`--new-source`) is a new baseline: diffing two
tenants would only list everything of both as added and removed.
The views `c1.group_access` and `c1.recent_changes` are what people read: names, not ids.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from orchestration import sql, sync_order
from orchestration.table_schema import column_names

CHANGE_KINDS = (
    "grant_added",
    "grant_removed",
    "user_added",
    "user_removed",
    "user_activated",
    "user_deactivated",
    "user_hidden",
    "user_renamed",
    "group_added",
    "group_removed",
    "group_renamed",
)
SNAPSHOT_COLUMNS = {
    "users": "user_id, display_name, status",
    "groups": "group_id, display_name",
    "grants": "grant_id, group_id, principal_type, principal_id",
}
HISTORY_TABLES = ("history_users", "history_groups", "history_grants", "access_changes")
# c1.access_changes, in order (docs/warehouse.md lists them so).
CHANGE_COLUMNS = {
    "sync_id": "VARCHAR",
    "previous_sync_id": "VARCHAR",
    "changed_at": "TIMESTAMP",
    "change": "VARCHAR",
    "object_type": "VARCHAR",
    "object_id": "VARCHAR",
    "group_id": "VARCHAR",
    "group_name": "VARCHAR",
    "principal_type": "VARCHAR",
    "principal_id": "VARCHAR",
    "principal_name": "VARCHAR",
    "display_name": "VARCHAR",
    "previous_display_name": "VARCHAR",  # a rename's old name
}
# The columns an earlier version's access_changes lacks; rows without times and names are recomputed
# (`_backfill`); renames are found from the first sync published with `previous_display_name` on.
ADDED_CHANGE_COLUMNS = (
    "changed_at",
    "group_name",
    "principal_type",
    "principal_name",
    "previous_display_name",
)
VIEWS = {
    # one row per grant to a user: who is in which group, by name
    "group_access": """SELECT g.display_name AS group_name, u.display_name AS user_name,
        u.status AS user_status, g.group_id, u.user_id
        FROM c1.grants AS gr JOIN c1.groups AS g USING (group_id)
        JOIN c1.users AS u ON gr.principal_type = 'user' AND u.user_id = gr.principal_id""",
    # every retained change, newest sync first (the sync published last: orchestration/sync_order.py)
    "recent_changes": f"""SELECT c.changed_at, c.change, c.group_name, c.principal_name, c.principal_type,
        c.display_name, c.sync_id, c.group_id, c.principal_id, c.previous_display_name
        FROM c1.access_changes AS c LEFT JOIN c1.sync_runs AS r USING (sync_id)
        ORDER BY r.{sync_order.COLUMN} DESC NULLS FIRST, r.rowid DESC,
            c.change, c.group_name, c.principal_name, c.display_name""",
}


def record_snapshot(con: duckdb.DuckDBPyConnection, sync_id: str) -> None:
    """Copies the just-published `c1` tables into the history (call inside the publish transaction)."""
    for statement in sql.load("history_snapshot").split(";"):
        if statement.strip():
            con.execute(statement)
    for table, columns in SNAPSHOT_COLUMNS.items():
        con.execute(f"INSERT INTO c1.history_{table} SELECT ?, {columns} FROM c1.{table}", [sync_id])
    ensure_changes_table(con)
    for name, query in VIEWS.items():
        con.execute(f"CREATE OR REPLACE VIEW c1.{name} AS {query}")


@dataclass(frozen=True)
class AccessChanges:
    sync_id: str
    previous_sync_id: str | None
    counts: dict[str, int]
    new_source: bool = False

    def summary(self) -> str:
        """e.g. "+12 grants, -3 grants, 2 users deactivated" (what the CLI prints)."""
        if self.new_source:
            return "first sync of a new source (new baseline for change history)"
        if self.previous_sync_id is None:
            return "first published sync (baseline for change history)"
        c = self.counts
        parts = [
            (c["grant_added"], f"+{c['grant_added']} grants"),
            (c["grant_removed"], f"-{c['grant_removed']} grants"),
            (c["user_added"], f"+{c['user_added']} users"),
            (c["user_removed"], f"-{c['user_removed']} users"),
            (c["user_activated"], f"{c['user_activated']} users activated"),
            (c["user_deactivated"], f"{c['user_deactivated']} users deactivated"),
            (c["user_hidden"], f"{c['user_hidden']} users no longer visible"),
            (c["user_renamed"], f"{c['user_renamed']} users renamed"),
            (c["group_added"], f"+{c['group_added']} groups"),
            (c["group_removed"], f"-{c['group_removed']} groups"),
            (c["group_renamed"], f"{c['group_renamed']} groups renamed"),
        ]
        return ", ".join(text for count, text in parts if count) or "no access changes"


def compute_changes(con: duckdb.DuckDBPyConnection, retention: int) -> AccessChanges | None:
    """Diffs the newest published sync against the one before it; None before the first sync."""
    ensure_changes_table(con)
    syncs = con.execute(
        f"SELECT sync_id, source_url FROM c1.sync_runs ORDER BY {sync_order.newest_first(con)} LIMIT 2"
    ).fetchall()
    if not syncs:
        return None
    sync_id = syncs[0][0]
    new_source = len(syncs) > 1 and other_tenant(syncs[0][1], syncs[1][1])
    previous = syncs[1][0] if len(syncs) > 1 and not new_source else None
    con.execute("BEGIN TRANSACTION")
    try:
        _backfill(con)
        _recompute(con, sync_id, previous)
        apply_retention(con, retention)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    rows = con.execute(
        "SELECT change, count(*) FROM c1.access_changes WHERE sync_id = ? GROUP BY 1", [sync_id]
    ).fetchall()
    counts = dict.fromkeys(CHANGE_KINDS, 0) | {k: int(v) for k, v in rows}
    return AccessChanges(sync_id=sync_id, previous_sync_id=previous, counts=counts, new_source=new_source)


def other_tenant(newer_url: str | None, older_url: str | None) -> bool:
    """Two published syncs' recorded base URLs, both known (a sync of an earlier version recorded
    none) and different: another tenant. The account is not compared (orchestration/sync_source.py)."""
    return newer_url is not None and older_url is not None and newer_url != older_url


def _recompute(con: duckdb.DuckDBPyConnection, sync_id: str, previous: str | None) -> None:
    con.execute("DELETE FROM c1.access_changes WHERE sync_id = ?", [sync_id])
    if previous is not None:
        con.execute(sql.load("access_changes"), {"sync_id": sync_id, "previous_sync_id": previous})


def _backfill(con: duckdb.DuckDBPyConnection) -> None:
    """Recomputes rows an earlier version wrote without times and names (their snapshots permitting)."""
    pairs = con.execute(
        "SELECT DISTINCT sync_id, previous_sync_id FROM c1.access_changes WHERE changed_at IS NULL"
    ).fetchall()
    for sync_id, previous in pairs:
        kept = con.execute(
            "SELECT count(DISTINCT sync_id) FROM c1.history_users WHERE sync_id IN (?, ?)",
            [sync_id, previous],
        ).fetchall()[0][0]
        if kept == 2:
            _recompute(con, sync_id, previous)


def ensure_changes_table(con: duckdb.DuckDBPyConnection) -> None:
    """Creates `c1.access_changes`, or brings an earlier version's table to today's columns.

    ALTER TABLE ADD COLUMN appends: an upgraded warehouse listed changed_at last, not third, so
    `SELECT *` and CSV exports differed from a new warehouse's and the docs. The table is then
    rewritten once in the order of a new one (its rows kept; `_backfill` fills the new columns).
    """
    columns = ", ".join(f"{name} {sql_type}" for name, sql_type in CHANGE_COLUMNS.items())
    con.execute(f"CREATE TABLE IF NOT EXISTS c1.access_changes ({columns})")
    for column in ADDED_CHANGE_COLUMNS:
        con.execute(
            f"ALTER TABLE c1.access_changes ADD COLUMN IF NOT EXISTS {column} {CHANGE_COLUMNS[column]}"
        )
    if column_names(con, "c1", "access_changes") != list(CHANGE_COLUMNS):
        con.execute(
            f"CREATE OR REPLACE TABLE c1.access_changes AS SELECT {', '.join(CHANGE_COLUMNS)} "
            "FROM c1.access_changes"
        )


def apply_retention(con: duckdb.DuckDBPyConnection, retention: int) -> None:
    """Drops history of all but the newest `retention` published syncs (sync_runs itself is kept)."""
    keep = f"SELECT sync_id FROM c1.sync_runs ORDER BY {sync_order.newest_first(con)} LIMIT ?"
    for table in HISTORY_TABLES:
        con.execute(f"DELETE FROM c1.{table} WHERE sync_id NOT IN ({keep})", [max(retention, 1)])
