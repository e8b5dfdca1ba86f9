"""Access-change history: each published sync's snapshot, and what changed since the previous one.

Snapshots (`c1.history_users`, `c1.history_groups`, `c1.history_grants`) are written in the publish
transaction, so a snapshot exists exactly for each published sync; `c1.access_changes` is derived
from two snapshots and can always be recomputed. Only the newest `retention` syncs are kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from orchestration import sql

CHANGE_KINDS = (
    "grant_added",
    "grant_removed",
    "user_added",
    "user_removed",
    "user_activated",
    "user_deactivated",
    "group_added",
    "group_removed",
)
SNAPSHOT_COLUMNS = {
    "users": "user_id, display_name, status",
    "groups": "group_id, display_name",
    "grants": "grant_id, group_id, principal_type, principal_id",
}
HISTORY_TABLES = ("history_users", "history_groups", "history_grants", "access_changes")


def record_snapshot(con: duckdb.DuckDBPyConnection, sync_id: str) -> None:
    """Copies the just-published `c1` tables into the history (call inside the publish transaction)."""
    for statement in sql.load("history_snapshot").split(";"):
        if statement.strip():
            con.execute(statement)
    for table, columns in SNAPSHOT_COLUMNS.items():
        con.execute(f"INSERT INTO c1.history_{table} SELECT ?, {columns} FROM c1.{table}", [sync_id])


@dataclass(frozen=True)
class AccessChanges:
    sync_id: str
    previous_sync_id: str | None
    counts: dict[str, int]

    def summary(self) -> str:
        """e.g. "+12 grants, -3 grants, 2 users deactivated" (what the CLI prints)."""
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
            (c["group_added"], f"+{c['group_added']} groups"),
            (c["group_removed"], f"-{c['group_removed']} groups"),
        ]
        return ", ".join(text for count, text in parts if count) or "no access changes"


def compute_changes(con: duckdb.DuckDBPyConnection, retention: int) -> AccessChanges | None:
    """Diffs the newest published sync against the one before it; None before the first sync."""
    ensure_changes_table(con)
    syncs = [
        row[0]
        for row in con.execute(
            "SELECT sync_id FROM c1.sync_runs ORDER BY published_at DESC LIMIT 2"
        ).fetchall()
    ]
    if not syncs:
        return None
    sync_id, previous = syncs[0], (syncs[1] if len(syncs) > 1 else None)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM c1.access_changes WHERE sync_id = ?", [sync_id])
        if previous is not None:
            con.execute(sql.load("access_changes"), {"sync_id": sync_id, "previous_sync_id": previous})
        apply_retention(con, retention)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    rows = con.execute(
        "SELECT change, count(*) FROM c1.access_changes WHERE sync_id = ? GROUP BY 1", [sync_id]
    ).fetchall()
    counts = dict.fromkeys(CHANGE_KINDS, 0) | {k: int(v) for k, v in rows}
    return AccessChanges(sync_id=sync_id, previous_sync_id=previous, counts=counts)


def ensure_changes_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """CREATE TABLE IF NOT EXISTS c1.access_changes (
            sync_id VARCHAR, previous_sync_id VARCHAR, change VARCHAR, object_type VARCHAR,
            object_id VARCHAR, group_id VARCHAR, principal_id VARCHAR, display_name VARCHAR)"""
    )


def apply_retention(con: duckdb.DuckDBPyConnection, retention: int) -> None:
    """Drops history of all but the newest `retention` published syncs (sync_runs itself is kept)."""
    keep = "SELECT sync_id FROM c1.sync_runs ORDER BY published_at DESC LIMIT ?"
    for table in HISTORY_TABLES:
        con.execute(f"DELETE FROM c1.{table} WHERE sync_id NOT IN ({keep})", [max(retention, 1)])
