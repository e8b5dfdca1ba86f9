"""Aligned text tables for a terminal: the one layout of `inspect` and `sql`.

A row is its cells padded to their column's width in terminal columns (`display_width`: a CJK
character or an emoji takes two, a combining mark none) and joined by ` | `, trailing spaces cut;
the first row is the header. The cells come made for the terminal (escaped, maybe cut: the caller's
choice). The widths are measured over every row first: at once for rows in memory (`aligned_table`),
or batch by batch (`ColumnWidths`) while the rows go to a spool that `aligned_row` lays out on a
second pass, so a result of millions of rows is never held whole (`sql`).
"""

from __future__ import annotations

from collections.abc import Sequence

from pipelines.terminal_text import display_width, pad


class ColumnWidths:
    """The widest cell of each column so far, in terminal columns; starts from the header's cells."""

    def __init__(self, header: Sequence[str]) -> None:
        self.widths = [display_width(text) for text in header]

    def add(self, row: Sequence[str]) -> None:
        widths = self.widths
        for index, text in enumerate(row):
            width = display_width(text)
            if width > widths[index]:
                widths[index] = width


def aligned_row(row: Sequence[str], widths: Sequence[int]) -> str:
    """`row`'s cells padded to `widths` and joined by ` | `, without trailing spaces."""
    return " | ".join(pad(text, width) for text, width in zip(row, widths, strict=True)).rstrip()


def header_rule(widths: Sequence[int]) -> str:
    """The line under a header: dashes as wide as each column, joined by `-+-`."""
    return "-+-".join("-" * width for width in widths)


def aligned_table(rows: Sequence[Sequence[str]]) -> list[str]:
    """The lines of `rows` (the first is the header), every column as wide as its widest cell."""
    widths = ColumnWidths(rows[0])
    for row in rows[1:]:
        widths.add(row)
    return [aligned_row(row, widths.widths) for row in rows]
