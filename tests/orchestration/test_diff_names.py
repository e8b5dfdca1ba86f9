"""`baton-xmatters diff`'s text lines tell apart what only looks alike.

Two people with the same display name, and a rename that changes only the Unicode normalisation
(NFD `Cafe\\u0301` -> NFC `Caf\\u00e9`, other bytes that print the same): before, the first showed as
`- grant Ann Lee in Ops` and `+ grant Ann Lee in Ops` (the same person, it seemed, removed and
added) and the second as `Café -> Café: renamed`. `-o json` always had the ids and the exact text.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from orchestration import history
from orchestration.cli import main
from tests.orchestration.conftest import empty_history_warehouse

NFD, NFC = "Cafe\u0301", "Caf\u00e9"
# sync s1 -> s2: u1 (one Ann Lee) leaves Ops, u2 (another Ann Lee) joins it; Bo joins Dev; u4's
# name goes from NFD to NFC; group g3's name gains a zero-width space (U+200B, a format character);
# g4 is another "Dev", unchanged (its name is only in the snapshots, not in a change row)
USERS = {
    "s1": [("u1", "Ann Lee"), ("u2", "Ann Lee"), ("u3", "Bo"), ("u4", NFD)],
    "s2": [("u1", "Ann Lee"), ("u2", "Ann Lee"), ("u3", "Bo"), ("u4", NFC)],
}
GROUPS = {
    "s1": [("g1", "Ops"), ("g2", "Dev"), ("g3", "Night"), ("g4", "Dev")],
    "s2": [("g1", "Ops"), ("g2", "Dev"), ("g3", "Nig\u200bht"), ("g4", "Dev")],
}
GRANTS = {"s1": [("g1", "u1")], "s2": [("g1", "u2"), ("g2", "u3")]}


def _warehouse(path: Path) -> Path:
    con = empty_history_warehouse(str(path))
    for day, sync_id in enumerate(("s1", "s2"), start=1):
        con.executemany(
            "INSERT INTO c1.history_users VALUES (?, ?, ?, 'ENABLED')",
            [(sync_id, *u) for u in USERS[sync_id]],
        )
        con.executemany(
            "INSERT INTO c1.history_groups VALUES (?, ?, ?)", [(sync_id, *g) for g in GROUPS[sync_id]]
        )
        con.executemany(
            "INSERT INTO c1.history_grants VALUES (?, ?, ?, 'user', ?)",
            [(sync_id, f"group:{g}:member:user:{u}", g, u) for g, u in GRANTS[sync_id]],
        )
        con.execute(
            "INSERT INTO c1.sync_runs (sync_id, published_at, source_url, source_account) "
            "VALUES (?, ?, ?, 'x')",
            [sync_id, datetime(2026, 1, day, 3), "https://a/api/xm/1"],
        )
        assert day == 1 or history.compute_changes(con, retention=30) is not None
    con.close()
    return path


def test_names_that_collide_or_only_look_alike_are_told_apart(tmp_path, capsys):
    warehouse = _warehouse(tmp_path / "warehouse.duckdb")
    assert main(["diff", "--warehouse", str(warehouse)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("sync s2 published 2026-01-02 03:00:00 UTC, since s1: ")
    assert lines[1:] == [
        "  ~ user   Cafe\\u0301 -> Caf\\u00e9 (u4): renamed "
        "(only the Unicode normalisation differs: NFD -> NFC)",
        "  ~ group  Night -> Nig\\u200bht (g3): renamed (only invisible characters differ)",
        "  + grant  Bo in Dev (g2)",  # Bo: a name no one else has, no id
        "  + grant  Ann Lee (u2) in Ops",
        "  - grant  Ann Lee (u1) in Ops",
    ]


def test_json_keeps_the_exact_text_and_the_ids(tmp_path, capsys):
    warehouse = _warehouse(tmp_path / "warehouse.duckdb")
    assert main(["diff", "--warehouse", str(warehouse), "-o", "json"]) == 0
    [sync] = json.loads(capsys.readouterr().out)
    renamed = {
        r["id"]: (r["previous_display_name"], r["display_name"]) for r in sync["resources"]["modified"]
    }
    assert renamed == {"u4": (NFD, NFC), "g3": ("Night", "Nig\u200bht")}
    assert [g["principal"]["id"] for g in sync["grants"]["deleted"]] == ["u1"]


def test_console_is_baton_s_name_for_the_table_and_is_documented(tmp_path, capsys):
    """`-o console` (what `baton diff -o` and `inspect -o` call the text output) was accepted but
    named nowhere: not in `diff --help`, not in the README."""
    warehouse = _warehouse(tmp_path / "warehouse.duckdb")
    assert main(["diff", "--warehouse", str(warehouse)]) == 0
    table = capsys.readouterr().out
    assert main(["diff", "--warehouse", str(warehouse), "-o", "console"]) == 0
    assert capsys.readouterr().out == table and "+ grant" in table
    with pytest.raises(SystemExit):
        main(["diff", "--help"])
    assert "console, baton's name for table, is the same" in " ".join(capsys.readouterr().out.split())
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert "[-o table|console|json]" in readme


def test_since_the_newest_sync_says_nothing_came_after_it(tmp_path, capsys):
    """`diff --since <the newest>` said `no sync with change history in the selection`, a phrase
    of the code's; now it says after which sync nothing was published."""
    warehouse = _warehouse(tmp_path / "warehouse.duckdb")
    assert main(["diff", "--warehouse", str(warehouse), "--since", "s2"]) == 0
    assert capsys.readouterr().out == "no sync with change history published after s2\n"
    assert main(["diff", "--warehouse", str(warehouse), "--since", "s2", "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_diff_and_sql_print_a_publish_time_alike(tmp_path, capsys):
    """`diff -o json` wrote `published_at` as `isoformat() + "Z"` (`...03:00:00.500000Z`) and `sql -o
    json` wrote the same column as `...03:00:00.500000` (no offset): now both write it as `baton -o
    json` does, RFC 3339 in UTC with `Z` and 0, 3 or 6 fractional digits."""
    import duckdb

    warehouse = _warehouse(tmp_path / "warehouse.duckdb")
    with duckdb.connect(str(warehouse)) as con:
        con.execute("UPDATE c1.sync_runs SET published_at = '2026-01-02 03:00:00.5' WHERE sync_id = 's2'")
    assert main(["diff", "--warehouse", str(warehouse), "-o", "json"]) == 0
    [sync] = json.loads(capsys.readouterr().out)
    query = "SELECT published_at FROM c1.sync_runs WHERE sync_id = 's2'"
    assert main(["sql", "--warehouse", str(warehouse), "-o", "json", query]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert sync["published_at"] == row["published_at"] == "2026-01-02T03:00:00.500Z"
    assert main(["diff", "--warehouse", str(warehouse)]) == 0  # the text, for people, as it was
    assert capsys.readouterr().out.startswith("sync s2 published 2026-01-02 03:00:00 UTC, since s1: ")
