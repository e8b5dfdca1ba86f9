"""Metadata previews: a relation as a Markdown table, one line per row whatever the values hold."""

from __future__ import annotations

import duckdb
import pytest

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


# Names as xMatters may hold them: the Dagster UI renders the preview as Markdown with inline HTML, so
# before each of these showed as something else ("<script>" gone, "**x**" in bold, "[x](...)" a link)
# and the image one made the browser of whoever opened the preview fetch the URL a group name gave.
ODD_TEXT = [
    "Ops | On-call <script>alert(1)</script> **bold** `tick` 🚨 [x](javascript:alert(1))",
    "<h1>BIG</h1> # not a heading ![img](http://127.0.0.1:9/x.png) <a href='javascript:alert(3)'>c</a>",
    "<img src=x onerror=alert(2)> &amp; &lt; ~~strike~~ _it_ \\ back\\slash",
    "www.example.com and https://example.com/a_b?c=d <https://example.com> - + 1. > quote",
]


def test_odd_names_render_as_the_text_they_are_and_nothing_else():
    """Rendered by a CommonMark parser with GFM tables, each cell is exactly the stored text: no
    element but the table's own, no link, no image. (The Dagster UI also autolinks a bare URL in
    the parsed text, which no escape prevents; its text stays as stored, and nothing is fetched.)"""
    markdown_it = pytest.importorskip("markdown_it")
    con = duckdb.connect()
    relation = con.sql('SELECT unnest(?) AS "name <b>"', params=[ODD_TEXT])
    tokens = markdown_it.MarkdownIt("commonmark").enable("table").parse(markdown_table(relation))
    cells = [
        "".join(child.content for child in token.children or [] if child.type in ("text", "softbreak"))
        for token in tokens
        if token.type == "inline"
    ]
    assert cells == ["name <b>", *ODD_TEXT]
    kinds = {child.type for token in tokens if token.type == "inline" for child in token.children or []}
    assert kinds == {"text"}
