"""A query's first rows as a Markdown table, for asset and check metadata (the UI renders it).

Rendered from DuckDB's rows, not through pandas' `to_markdown`: pandas (and pyarrow, which imports it
on first use) would otherwise be loaded into the sync process for these few rows only: ~0.5 s of
the GIL and ~60 MB of memory, paid during the extract. The expectations worker, which validates
DataFrames, is the only process that needs pandas.
"""

from __future__ import annotations

import string
from typing import Any

import duckdb

# ASCII punctuation backslash-escaped, but for `:` (ids such as `group:g1:member` stay readable in
# the Markdown source); a line break would end the row. A bare URL in a value still shows as a link
# in the Dagster UI (its GFM autolinks are found in the parsed text, after escapes): its text intact.
_ESCAPED = str.maketrans({**{c: "\\" + c for c in string.punctuation if c != ":"}, "\r": " ", "\n": " "})


def markdown_table(relation: duckdb.DuckDBPyRelation) -> str:
    """The relation's rows under a header of its column names; NULL shows as an empty cell."""
    header = [_cell(name) for name in relation.columns]
    lines = [_line(header), _line(["---"] * len(header))]
    lines += [_line([_cell(value) for value in row]) for row in relation.fetchall()]
    return "\n".join(lines)


def _line(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _cell(value: Any) -> str:
    """One cell: the value's text on one line, shown as it is.

    ASCII punctuation is backslash-escaped (CommonMark allows it for each character), so none
    opens a column (`|`), emphasis, code, a Markdown link, an image or inline HTML: the UI
    renders Markdown with HTML, and a group named `![x](https://host/pixel.png)` made the browser
    of whoever opened the preview fetch that URL, `<script>...</script>` vanished, `**x**` showed bold.
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return text.translate(_ESCAPED)
