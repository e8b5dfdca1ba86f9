"""Every example query in docs/warehouse.md runs against a real sync, and the key ones are right."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb

from orchestration.cli import main
from tests.orchestration.conftest import expected_from_org
from tests.orchestration.test_sync_cli import sync_args

DOC = Path(__file__).resolve().parents[2] / "docs" / "warehouse.md"


def doc_queries() -> dict[str, str]:
    """heading -> SQL of every ```sql block in the doc."""
    text = DOC.read_text(encoding="utf-8")
    return {
        heading.strip(): sql.strip()
        for heading, sql in re.findall(r"^### (.+?)\n```sql\n(.+?)```", text, flags=re.S | re.M)
    }


def documented_columns() -> dict[tuple[str, str], list[str]]:
    """(schema, table) -> the columns the doc's table lists for it, in order.

    A row is `| `table` | columns |` under `## `<schema>``; the columns are the cell's backticked
    names outside parentheses (inside them are values and remarks: `(user; group with `--x`)`).
    """
    columns: dict[tuple[str, str], list[str]] = {}
    schema = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if heading := re.match(r"^## `(\w+)`", line):
            schema = heading.group(1)
        elif schema and (row := re.match(r"^\| `(\w+)`(?: \(view\))? \| (.+) \|$", line)):
            depth, names = 0, []
            for token in re.finditer(r"\(|\)|`([^`]+)`", row.group(2)):
                depth += {"(": 1, ")": -1}.get(token.group(0), 0)
                if token.group(1) and depth == 0:
                    names.append(token.group(1))
            columns[(schema, row.group(1))] = names
        elif line.startswith("## "):
            schema = None
    return columns


def test_the_doc_has_its_examples():
    assert {"Who is in which group", "Inactive users who still hold grants", "Groups without members"} <= set(
        doc_queries()
    )


def test_every_documented_query_runs_and_answers_correctly(synced_once, org, data_home, tmp_path, capsys):
    simulator, sync_file = synced_once, tmp_path / "sync.c1z"  # the first sync done
    assert main(sync_args(simulator, sync_file)) == 0  # a second sync gives the history a diff

    con = duckdb.connect(str(data_home / "warehouse.duckdb"), read_only=True)
    try:
        results = {name: con.sql(sql).fetchall() for name, sql in doc_queries().items()}
        databases = con.sql("SELECT database_name, tags FROM duckdb_databases()").fetchall()
    finally:
        con.close()

    # the storage version the doc's client table is about, and the shell it recommends
    stated = re.search(r"storage version `(v[0-9.]+\+)`", DOC.read_text(encoding="utf-8"))
    assert stated and dict(databases)["warehouse"]["storage_version"] == stated.group(1)
    capsys.readouterr()
    assert main(["sql", "-o", "json", doc_queries()["Groups without members"]]) == 0
    shell_rows = json.loads(capsys.readouterr().out)
    assert [tuple(row.values()) for row in shell_rows] == results["Groups without members"]

    assert len(results["Who is in which group"]) == len(expected_from_org(org).grants)
    inactive = {p["id"] for p in org.people if p["status"] == "INACTIVE"}
    holding = {pid for gid, pid in org.person_memberships() if pid in inactive}
    assert len(results["Inactive users who still hold grants"]) == len(holding)
    empty = {g["targetName"] for g in org.groups if not org.members[g["id"]]}
    assert {row[0] for row in results["Groups without members"]} == empty
    counts = org.member_count_by_type()
    assert dict(results["Members that are not grants (nested groups, devices, dynamic teams)"]) == {
        t: n for t, n in counts.items() if t != "PERSON" and n
    }
    assert results["What changed at the last sync"] == []
    assert results["Recent changes, readable (view)"] == []
    assert sorted(results["Who is in which group, by name (view)"]) == sorted(
        (g, u, s) for g, u, s in results["Who is in which group"]
    )
    assert len(results["Sync history"]) == 2
    assert results["A custom property of every person (raw layer)"]


def test_every_documented_table_has_the_documented_columns(synced_once, data_home):
    """The doc's `xmatters_raw` and `c1` tables name every column of each table and view, in order."""
    # data_home: a copy of the home of one sync (the module's), what a sync here did before
    con = duckdb.connect(str(data_home / "warehouse.duckdb"), read_only=True)
    try:
        rows = con.sql(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns "
            "WHERE table_schema IN ('xmatters_raw', 'c1') ORDER BY table_schema, table_name, ordinal_position"
        ).fetchall()
    finally:
        con.close()
    actual: dict[tuple[str, str], list[str]] = {}
    for schema, table, column in rows:
        if table.startswith("_dlt_") or column.startswith("_dlt_"):  # dlt's bookkeeping, named in the doc
            continue
        actual.setdefault((schema, table), []).append(column)
    assert documented_columns() == actual
