"""A query's first rows as a Markdown table, for asset and check metadata (the UI renders it).

Rendered from DuckDB's rows, not through pandas' `to_markdown`: pandas (and pyarrow, which imports it
on first use) would otherwise be loaded into the sync process for these few rows only: ~0.5 s of
the GIL and ~60 MB of memory, paid during the extract. The expectations worker, which validates
DataFrames, is the only process that needs pandas.
"""

from __future__ import annotations

from typing import Any

import duckdb


def markdown_table(relation: duckdb.DuckDBPyRelation) -> str:
    """The relation's rows under a header of its column names; NULL shows as an empty cell."""
    header = [_cell(name) for name in relation.columns]
    lines = [_line(header), _line(["---"] * len(header))]
    lines += [_line([_cell(value) for value in row]) for row in relation.fetchall()]
    return "\n".join(lines)


def _line(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _cell(value: Any) -> str:
    """One cell: the value's text on one line, with pipes escaped so it cannot open a column."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")
