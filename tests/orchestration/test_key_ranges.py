"""orchestration/key_ranges.py: ranges of keys of bounded bytes that cover a table once, in order."""

from __future__ import annotations

import duckdb

from orchestration.key_ranges import ALL, key_ranges, range_condition


def _table() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    # 100 keys, k00..k99, of 10 bytes each except k50 (1,000 bytes: a range of its own); one quote
    con.execute(
        "CREATE TABLE t AS SELECT CASE i WHEN 7 THEN 'k07''' ELSE printf('k%02d', i) END AS k, "
        "CASE i WHEN 50 THEN 1000 ELSE 10 END AS size FROM range(100) AS r(i)"
    )
    return con


def test_the_ranges_hold_every_key_once_in_order_within_their_bytes() -> None:
    con = _table()
    ranges = key_ranges(con, "t", "k", "size", max_bytes=100)
    query = f"SELECT k, size FROM t WHERE {range_condition('k')} ORDER BY k"
    read = [[row[0] for row in con.execute(query, part.params()).fetchall()] for part in ranges]
    keys = [key for part in read for key in part]
    assert keys == sorted(row[0] for row in con.sql("SELECT k FROM t").fetchall())
    sizes = [sum(1000 if key == "k50" else 10 for key in part) for part in read]
    assert all(size <= 100 or len(part) == 1 for size, part in zip(sizes, read, strict=True))
    assert ["k50"] in read and len(ranges) > 10


def test_a_table_within_the_bytes_is_one_range_without_a_condition() -> None:
    con = _table()
    assert key_ranges(con, "t", "k", "size", max_bytes=10**6) == [ALL]
    assert key_ranges(con, "(SELECT * FROM t WHERE false)", "k", "size") == [ALL]


def test_one_range_is_no_condition_and_a_range_of_row_ids_is_pushed_into_the_scan() -> None:
    """An ordinary tenant's query keeps its plan (the condition folds away); a range of row ids is
    a filter of the table scan (it reads only that range's rows), not one more operator over it."""
    con = _table()
    plan = con.execute(f"EXPLAIN SELECT k FROM t WHERE {range_condition('rowid')}", ALL.params()).fetchall()
    assert "Filters" not in plan[0][1] and "FILTER" not in plan[0][1]
    ranges = key_ranges(con, "t", "rowid", "size", max_bytes=100)
    plan = con.execute(f"EXPLAIN SELECT k FROM t WHERE {range_condition('rowid')}", ranges[1].params())
    text = plan.fetchall()[0][1]
    assert "Filters" in text and "rowid" in text and "FILTER" not in text
