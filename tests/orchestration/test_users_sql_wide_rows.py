"""orchestration/sql/users.sql on names wider than DuckDB's memory allows in one sort.

DuckDB 2.0 cannot spill a sort or a window whose rows hold long strings: the dedupe windows over
whole `people` and `group_members` rows and the final ORDER BY failed the step ("Out of Memory
Error"), as a tenant of 10,000 people with 30 KB names failed the sync at the run's 256 MB. Here
the same at a small scale: 1 KB names, ~230 MB of them, in 128 MB (DuckDB's JSON functions
take 16 MB at a time per thread: less fails whatever the SQL).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from orchestration.c1_limits_sql import install_macros
from orchestration.staged_users import stage_users
from tests.orchestration.test_blank_profile_text import MEMBERS, PEOPLE

WIDTH = 1_000
PEOPLE_ROWS = 160_000
HIDDEN = 20_000


def _raw_warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    install_macros(con)
    con.execute("CREATE SCHEMA xmatters_raw; CREATE SCHEMA c1_staging")
    for table, columns in (("people", PEOPLE), ("group_members", MEMBERS)):
        typed = ", ".join(f"{column} VARCHAR" for column in columns.split(", "))
        con.execute(f"CREATE TABLE xmatters_raw.{table} ({typed})")
    con.execute("CREATE TABLE c1_staging.user_emails (user_id VARCHAR, address VARCHAR, is_primary BOOLEAN)")
    return con


def test_users_of_wide_names_are_staged_within_duckdbs_memory_limit(tmp_path: Path) -> None:
    con = _raw_warehouse(tmp_path / "warehouse.duckdb")
    person = (
        "INSERT INTO xmatters_raw.people (id, first_name, last_name, target_name, status, when_updated) "
        "SELECT 'p' || i, 'Ann', 'Lee', lpad(i::VARCHAR, {width}, 'x'), '{status}', {updated} "
        "FROM range({rows}) AS r(i)"
    )
    # every tenth person listed twice: the later row (when_updated) wins, a row without one loses
    con.execute(person.format(width=WIDTH, status="INACTIVE", updated="'2020-01-01'", rows=PEOPLE_ROWS // 10))
    con.execute(person.format(width=WIDTH, status="ACTIVE", updated="'2024-01-01'", rows=PEOPLE_ROWS))
    con.execute(person.format(width=WIDTH, status="INACTIVE", updated="NULL", rows=PEOPLE_ROWS // 10))
    # members /people did not return, each in two groups: one user each
    con.execute(
        f"INSERT INTO xmatters_raw.group_members ({MEMBERS}) "
        f"SELECT 'g' || (i % 2), 'h' || (i // 2), 'PERSON', NULL, NULL, "
        f"lpad((i // 2)::VARCHAR, {WIDTH}, 'y'), NULL FROM range({2 * HIDDEN}) AS r(i)"
    )
    con.execute("SET memory_limit = '128MB'")
    stage_users(con)
    staged = con.execute(
        "SELECT count(*), count(DISTINCT user_id), count(*) FILTER (WHERE visible AND status = 'ENABLED'), "
        "count(*) FILTER (WHERE NOT visible AND strlen(login) = ?), min(strlen(profile->>'targetName')) "
        "FROM c1_staging.users",
        [WIDTH],
    ).fetchone()
    assert staged == (PEOPLE_ROWS + HIDDEN, PEOPLE_ROWS + HIDDEN, PEOPLE_ROWS, HIDDEN, WIDTH)


def test_the_writer_reads_users_of_wide_names_in_order_within_duckdbs_memory_limit(tmp_path: Path) -> None:
    """The `.c1z` writer's users query sorted whole rows (`ORDER BY user_id` over the profiles) and
    failed the same way: a tenant of 30,000 people with 5 KB names failed `c1_sync` at 256 MB
    ("failed to pin block"). It reads key ranges of at most `MAX_SORTED_BYTES` now: every user
    once, in id order, with the whole name in the profile."""
    from orchestration.assets.sync_file import _users

    con = _raw_warehouse(tmp_path / "warehouse.duckdb")
    rows = 60_000
    con.execute(
        "INSERT INTO xmatters_raw.people (id, first_name, last_name, target_name, status) "
        f"SELECT 'p' || i, 'Ann', 'Lee', lpad(i::VARCHAR, {WIDTH}, 'x'), 'ACTIVE' FROM range({rows}) AS r(i)"
    )
    stage_users(con)
    con.execute("SET memory_limit = '128MB'")  # ~140 MB of rows: the name in profile, login, alias
    ids, widths = [], set()
    for user in _users(con, []):
        ids.append(user.user_id)
        widths.add(len(user.profile["targetName"]))
    assert sorted(ids) == sorted(f"p{i}" for i in range(rows)) and len(ids) == rows
    assert widths == {WIDTH}


def test_profiles_of_long_names_are_built_in_ranges_within_duckdbs_memory_limit(tmp_path: Path) -> None:
    """The profiles' `json_object` takes ~8 bytes per name byte of the rows it is given at once, per
    thread: 30,000 people of 10 KB names, or 1,000 hidden members of 30 KB names, failed the step at
    256 MB in one statement ("failed to allocate data of size 16.0 MiB"). Here 800 people and 800
    hidden members of 10 KB names at 80 MB, which one statement fails (seen: 66.7 of 76.2 MiB used);
    `stage_users` gives each statement ~2 MB of names: every user once, every name whole."""
    con = _raw_warehouse(tmp_path / "warehouse.duckdb")
    rows, width = 800, 10_000
    con.execute(
        "INSERT INTO xmatters_raw.people (id, first_name, last_name, target_name, status) "
        f"SELECT 'p' || i, 'Ann', 'Lee', lpad(i::VARCHAR, {width}, 'x'), 'ACTIVE' FROM range({rows}) AS r(i)"
    )
    con.execute(
        f"INSERT INTO xmatters_raw.group_members ({MEMBERS}) "
        f"SELECT 'g' || (i % 2), 'h' || (i // 2), 'PERSON', NULL, NULL, "
        f"lpad((i // 2)::VARCHAR, {width}, 'y'), NULL FROM range({2 * rows}) AS r(i)"
    )
    con.execute("CHECKPOINT")  # the raw rows on disk, as dlt's load leaves them
    con.execute("SET threads = 2; SET memory_limit = '80MB'")
    assert stage_users(con, max_bytes=2 * 2**20) > 2
    staged = con.execute(
        "SELECT count(*), count(DISTINCT user_id), count(*) FILTER (WHERE visible), "
        "min(strlen(profile->>'targetName')), max(strlen(profile->>'targetName')) FROM c1_staging.users"
    ).fetchone()
    assert staged == (2 * rows, 2 * rows, rows, width, width)


def test_a_name_too_large_for_duckdbs_memory_is_named_with_its_size(tmp_path: Path) -> None:
    """A row no range can split: DuckDB's line said only that memory ran out; it now says how large
    the widest person's names are, and where."""
    con = _raw_warehouse(tmp_path / "warehouse.duckdb")
    con.execute(
        "INSERT INTO xmatters_raw.people (id, first_name, last_name, target_name, status) "
        "SELECT 'p1', 'Ann', 'Lee', repeat('x', 12000000), 'ACTIVE'"
    )
    con.execute("CHECKPOINT")
    con.execute("SET threads = 2; SET memory_limit = '64MB'")
    with pytest.raises(duckdb.OutOfMemoryException) as raised:
        stage_users(con)
    line = str(raised.value)
    assert "\n" not in line and line.startswith("Out of Memory Error:")
    assert "names of up to 12,000,006 bytes a person (xmatters_raw.people" in line
