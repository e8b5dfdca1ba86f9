"""groups.sql and entitlements.sql, and the `.c1z` writer's reads of them, on long group names.

xMatters sets no limit on name lengths. The group profile is a `json_object` (~8 bytes per name
byte of the rows DuckDB gives it at once, per thread) and both tables, the writer's groups query
and its list of shortened objects sorted whole rows, which DuckDB cannot spill: 5,000 groups of
20 KB names failed `c1_staging/groups` at the run's 256 MB ("failed to allocate data of size 16.0
MiB"), then `c1_sync`. Here the same at a small scale, as test_users_sql_wide_rows does for users:
800 groups of 10 KB names at 80 MB, each table built in statements of ~2 MB of names.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from orchestration.assets.c1_tables import _RANGED
from orchestration.c1_limits_sql import install_macros
from orchestration.staged_ranges import stage_in_ranges
from tests.orchestration.test_blank_profile_text import GROUPS

ROWS, WIDTH = 800, 10_000


def _warehouse(path: Path, rows: int = ROWS, width: int = WIDTH) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    install_macros(con)
    con.execute("CREATE SCHEMA xmatters_raw; CREATE SCHEMA c1_staging")
    typed = ", ".join(f"{column} VARCHAR" for column in GROUPS.split(", "))
    con.execute(f"CREATE TABLE xmatters_raw.groups ({typed})")
    group = (
        "INSERT INTO xmatters_raw.groups (id, target_name, description, status) "
        "SELECT 'g' || i, lpad(i::VARCHAR, {width}, 'x'), {description}, 'ACTIVE' FROM range({rows}) AS r(i)"
    )
    con.execute(group.format(width=width, description="'first'", rows=rows))
    # every tenth group listed twice (a listing that moved under the pages): its first row wins
    con.execute(group.format(width=width, description="'again'", rows=rows // 10))
    con.execute("CHECKPOINT")  # the raw rows on disk, as dlt's load leaves them
    return con


def _stage(con: duckdb.DuckDBPyConnection, max_bytes: int) -> list[int]:
    return [
        stage_in_ranges(con, table, *_RANGED[table], max_bytes=max_bytes)
        for table in ("groups", "entitlements")
    ]


def test_groups_and_entitlements_of_long_names_are_staged_within_duckdbs_memory_limit(tmp_path: Path) -> None:
    con = _warehouse(tmp_path / "warehouse.duckdb")
    con.execute("SET threads = 2; SET memory_limit = '80MB'")
    assert min(_stage(con, 2 * 2**20)) > 2
    groups = con.execute(
        "SELECT count(*), count(DISTINCT group_id), count(*) FILTER (WHERE description = 'first'), "
        "min(strlen(profile->>'targetName')), max(strlen(display_name)) FROM c1_staging.groups"
    ).fetchone()
    assert groups == (ROWS, ROWS, ROWS, WIDTH, WIDTH)
    entitlements = con.execute(
        "SELECT count(*), count(DISTINCT entitlement_id), min(strlen(display_name)) "
        "FROM c1_staging.entitlements"
    ).fetchone()
    assert entitlements[:2] == (ROWS, ROWS) and entitlements[2] > WIDTH


def test_the_writer_reads_groups_and_shortened_names_of_long_names_within_duckdbs_memory_limit(
    tmp_path: Path,
) -> None:
    """The writer's groups query (`ORDER BY group_id` over the profiles) and its list of shortened
    objects (every name whole, sorted, fetched into Python) failed `c1_sync` the same way."""
    from orchestration.assets.sync_file import _groups, _shortened

    con = _warehouse(tmp_path / "warehouse.duckdb", rows=6_000, width=8_000)
    _stage(con, 8 * 2**20)
    con.execute(
        "CREATE TABLE c1_staging.users (user_id VARCHAR, display_name VARCHAR, status_details VARCHAR)"
    )
    con.execute("SET threads = 2; SET memory_limit = '80MB'")  # ~100 MB of names in profiles alone
    names = {group.group_id: len(group.profile["targetName"]) for group in _groups(con)}
    assert len(names) == 6_000 and set(names.values()) == {8_000}
    shortened = _shortened(con)
    assert len(shortened) == 2 * 6_000  # each group's and its entitlement's names
    assert shortened[0] == {
        "type": "group",
        "id": "g0",
        "name": "xxxxxxxxxxxxxxxx…",
        "columns": ["display_name"],
    }


def test_a_group_name_too_large_for_duckdbs_memory_is_named_with_its_size(tmp_path: Path) -> None:
    """A row no range can split: the line names the table, the fields and the widest row's size."""
    con = _warehouse(tmp_path / "warehouse.duckdb", rows=1, width=12_000_000)
    con.execute("SET threads = 2; SET memory_limit = '64MB'")
    with pytest.raises(duckdb.OutOfMemoryException) as raised:
        _stage(con, 8 * 2**20)
    line = str(raised.value)
    assert "\n" not in line and line.startswith("Out of Memory Error:")
    assert (
        "building c1_staging.groups from rows of up to 12,000,005 bytes (xmatters_raw.groups: target_name"
        in line
    )
