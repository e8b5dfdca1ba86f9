"""What the CLI prints never carries a control character from the data to the terminal.

The hostile-text organisation names groups and people with ESC sequences, BEL, DEL and C0 controls
(`simulator/hostile_text.py`). The sync's progress, warnings and summary, `diff`, `sql` and
`inspect` show them escaped (`\\x1b`); the warehouse and the file keep them as they are.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import duckdb
import pytest

from orchestration.cli import main
from simulator import XmattersSimulator
from simulator.hostile_text import CONTROLS
from tests.conftest import SMALL_ORG_SPEC, cached_org
from tests.orchestration.test_sync_cli import sync_args

HOSTILE_SPEC = dataclasses.replace(SMALL_ORG_SPEC, hostile_text=True)
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but tab and newline


def _assert_no_raw_controls(what: str, text: str) -> None:
    found = RAW_CONTROL.search(text)
    assert found is None, (
        f"{what} printed a raw {found.group()!r}: ...{text[max(0, found.start() - 80) : found.end() + 20]!r}"
    )


def test_sync_diff_sql_and_inspect_escape_controls(data_home: Path, tmp_path: Path, capsys) -> None:
    sync_file = tmp_path / "sync.c1z"
    org = cached_org(HOSTILE_SPEC)
    with XmattersSimulator(org) as sim:
        assert main([*sync_args(sim, sync_file), "--log-level", "debug"]) == 0
        out, err = capsys.readouterr()
        _assert_no_raw_controls("the sync (stdout)", out)
        _assert_no_raw_controls("the sync (stderr)", err)

        person = next(p["id"] for p in org.people if any(c in p.get("firstName", "") for c in CONTROLS))
        group = next(
            g["id"] for g in org.groups if person not in {m["member"]["id"] for m in org.members[g["id"]]}
        )
        sim.serve(org.with_changes(add_members=[(group, person)]))
        assert main([*sync_args(sim, sync_file), "--max-drop", "1"]) == 0
        capsys.readouterr()

    warehouse = str(data_home / "warehouse.duckdb")
    for argv in (
        ["diff", "--warehouse", warehouse],
        ["sql", "--warehouse", warehouse, "SELECT display_name FROM c1.users ORDER BY 1"],
        ["inspect", "-f", str(sync_file), "resources"],
    ):
        assert main(argv) == 0
        out, err = capsys.readouterr()
        _assert_no_raw_controls(argv[0], out + err)
        assert "\\x1b" in out, f"{argv[0]} shows no hostile name"

    with duckdb.connect(warehouse, read_only=True) as con:  # the data keeps its text as it came
        names = [row[0] for row in con.sql("SELECT display_name FROM c1.users").fetchall()]
    assert any(CONTROLS in (name or "") for name in names)


@pytest.mark.parametrize("text", ["\x1b]0;title\x07", "a\x1b[2Jb", "\x9b31m", "x\u2028y"])
def test_printable_escapes_every_control(text: str) -> None:
    from pipelines.terminal_text import printable

    shown = printable(text)
    assert RAW_CONTROL.search(shown) is None and "\u2028" not in shown
    assert shown.encode("ascii", "ignore").decode() != "" and "\\" in shown


def test_console_tables_align_wide_and_combining_characters() -> None:
    """`inspect` and `sql` pad cells by terminal columns: an emoji or a CJK character takes two, a
    combining mark none (padding by `len` pushed such rows out of line)."""
    from orchestration.sql_shell import Result, render_table
    from pipelines.c1z.inspect import _table
    from pipelines.terminal_text import display_width

    names = ["Zoe", "Zoe\u0301", "🚀 Ops", "東京", "plain text"]
    assert [display_width(name) for name in names] == [3, 3, 6, 4, 10]
    for table in (
        _table([["name", "id"], *([name, "x"] for name in names)]),
        render_table(Result(columns=["name", "id"], rows=[(name, "x") for name in names])),
    ):
        rows = [line for line in table.splitlines() if " | " in line]
        assert len(rows) == len(names) + 1
        assert len({display_width(line.split(" | ")[0]) for line in rows}) == 1, table
