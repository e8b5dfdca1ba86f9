"""`stored_uncompressed`: staging tables are written without DuckDB's compression, nothing else is."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from orchestration.assets.c1_tables import stored_uncompressed

# More than one DuckDB row group (122,880 rows), so the rows are written to the file by the statement
# itself, as the M and L staging tables are; repetitive strings, which DuckDB would compress
ROWS = 300_000
TABLE_SQL = (
    f"SELECT 'group:' || (i % 100) || ':member:user:' || (i % 5000) AS grant_id FROM range({ROWS}) r(i)"
)


def _compressions(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    rows = con.execute(
        f"SELECT DISTINCT compression FROM pragma_storage_info('{table}') WHERE column_name = 'grant_id'"
    ).fetchall()
    return {row[0] for row in rows} - {"Constant", "Empty Validity"}


def test_a_staging_table_is_stored_uncompressed_and_later_writes_are_compressed(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    cursor = con.cursor()  # a step's cursor of the run's connection
    with stored_uncompressed(cursor):
        cursor.execute(f"CREATE TABLE staging AS {TABLE_SQL}")
    con.execute(f"CREATE TABLE published AS {TABLE_SQL}")
    con.execute("CREATE TABLE copied AS SELECT * FROM staging")
    con.close()  # checkpoint: the staging rows stay as written

    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    assert _compressions(con, "staging") == {"Uncompressed"}
    assert "Uncompressed" not in _compressions(con, "published")
    assert "Uncompressed" not in _compressions(con, "copied")
    assert con.execute("SELECT * FROM staging EXCEPT ALL SELECT * FROM published").fetchall() == []
    assert con.execute("SELECT count(*) FROM staging").fetchall() == [(ROWS,)]


def test_the_setting_is_back_after_a_failed_statement() -> None:
    con = duckdb.connect()
    with pytest.raises(duckdb.CatalogException), stored_uncompressed(con):
        con.execute("CREATE TABLE t AS SELECT * FROM missing_table")
    assert con.execute("SELECT current_setting('force_compression')").fetchall() == [("auto",)]
