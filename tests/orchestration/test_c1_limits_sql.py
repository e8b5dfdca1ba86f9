"""The SQL side of C1's text rules (orchestration/c1_limits_sql.py) gives Python's answers exactly,
and the warning names what was shortened in one readable line."""

from __future__ import annotations

import random

import duckdb
import pytest

from orchestration.c1_limits_sql import install_macros, violations_query
from orchestration.shortened import abbreviate, shortened_lines
from pipelines.c1z import ids
from pipelines.c1z.limits import shorten
from pipelines.c1z.text import WHITESPACE_RANGES, text


@pytest.fixture
def con():
    connection = duckdb.connect()
    install_macros(connection)
    yield connection
    connection.close()


def test_c1_shorten_equals_python_shorten(con):
    rng = random.Random(3)
    alphabet = ["a", "é", "Ω", "日", "🚀", " ", "\u202e", "\x07"]
    cases = [
        ("".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 1300))), n) for n in (1024, 2048, 8)
    ]
    cases += [
        ("".join(rng.choice(alphabet) for _ in range(rng.randrange(200, 1300))), 1024) for _ in range(300)
    ]
    for value, limit in cases:
        assert con.execute("SELECT c1_shorten(?, ?)", [value, limit]).fetchone()[0] == shorten(value, limit)
    assert con.execute("SELECT c1_shorten(NULL, 10)").fetchone()[0] is None


def test_c1_text_equals_python_text(con):
    spaces = [chr(c) for low, high in WHITESPACE_RANGES for c in range(low, high + 1)]
    values = ["", "a", " a ", "\u200b", "\x1c", *spaces, "".join(spaces), "".join(spaces) + "x"]
    # c1_text answers at once for a first character in "!"..U+0084, else asks the regex: both sides
    values += ["!", "~", "\x7f", "\x84", "\x84 ", "\x85", "\x85x", "é", "\u3000x", "x\u3000", "日本", "🚀 "]
    values += [chr(c) + tail for c in range(0x20, 0x90) for tail in ("", " ", "\u3000")]
    # NUL (U+0000), which C1's PostgreSQL refuses, is removed; NUL alone or with spaces is blank
    values += ["\x00", "\x00 ", " \x00", "A\x00n\x00", "\x00\x00x", "a\x00\u3000"]
    for value in values:
        assert con.execute("SELECT c1_text(?)", [value]).fetchone()[0] == text(value), repr(value)
    assert con.execute("SELECT c1_text(NULL)").fetchone()[0] is None
    assert [text(v) for v in ("\x00", "\x00 ", "A\x00n\x00", "a\x00\u3000")] == [None, None, "An", "a\u3000"]


def test_violations_are_found_after_shortening_and_in_ids(con):
    con.execute("CREATE SCHEMA c1_staging")
    con.execute(
        "CREATE TABLE c1_staging.groups AS SELECT * FROM (VALUES ('g1', repeat('Ω', 900), NULL), "
        f"('{'x' * 1025}', 'ok', repeat('d', 5000))) AS t(group_id, display_name, description)"
    )
    assert con.sql(violations_query("groups")).fetchall() == [("x" * 1025, "group_id", 1025)]
    con.execute("CREATE OR REPLACE TEMP MACRO c1_shorten(s, n) AS s")  # a regression: nothing shortened
    found = {(row[0][:2], row[1], row[2]) for row in con.sql(violations_query("groups")).fetchall()}
    assert found == {("g1", "display_name", 1800), ("xx", "description", 5000), ("xx", "group_id", 1025)}


def test_the_warning_names_objects_in_one_escaped_line():
    objects = [
        {"type": "group", "name": abbreviate("Ω" * 2500)},
        {"type": "user", "name": abbreviate("\u202eZoë\x07\n")},
        {"type": "user", "name": abbreviate("Ann")},
    ]
    (line,) = shortened_lines(objects, total=5)
    assert line == (
        "5 objects with names or descriptions shortened to C1's limits: group ΩΩΩΩΩΩΩΩΩΩΩΩΩΩΩΩ…, "
        "user \\u202eZoë\\u0007\\u000a, user Ann, and 2 more"
    )
    assert shortened_lines([]) == []


@pytest.mark.parametrize("name", ["Ops", "O'Brien's ☎ team", "", "a:b:c", "日本 🚀"])
def test_the_id_and_name_macros_equal_the_writers_functions(con, name):
    """One definition (pipelines/c1z/ids.py): the staging SQL's ids and names are the writer's."""
    row = con.execute(
        "SELECT c1_entitlement_id(?), c1_grant_id(?, 'user', ?), c1_member_display_name(?), "
        "c1_member_description(?), c1_member_slug()",
        [name, name, name + "x", name, name],
    ).fetchone()
    assert row == (
        ids.entitlement_id(name),
        ids.grant_id(name, "user", name + "x"),
        ids.member_display_name(name),
        ids.member_description(name),
        ids.MEMBER_SLUG,
    )
