"""Metadata previews: a relation as a Markdown table, one line per row whatever the values hold."""

from __future__ import annotations

import duckdb

from orchestration.markdown import markdown_table


def test_rows_under_their_header_with_nulls_empty_and_pipes_escaped():
    con = duckdb.connect()
    relation = con.sql(
        "SELECT * FROM (VALUES (1, 'a|b', NULL), (2, 'two\nlines', true)) AS t(n, \"the text\", flag)"
    )
    assert markdown_table(relation).splitlines() == [
        "| n | the text | flag |",
        "| --- | --- | --- |",
        "| 1 | a\\|b |  |",
        "| 2 | two lines | True |",
    ]


def test_an_empty_result_is_its_header():
    con = duckdb.connect()
    assert markdown_table(con.sql("SELECT 1 AS one WHERE false")) == "| one |\n| --- |"
