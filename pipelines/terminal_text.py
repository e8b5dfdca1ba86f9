"""Text from a file or a server, made safe and readable on a terminal.

Names in a `.c1z` and messages from xMatters are data: they may hold ESC sequences (which move the
cursor, clear the screen or retitle the window), other control characters, or megabytes in one
cell. What the project prints to a terminal shows control characters as escapes (`\\x1b`) and cuts
a table cell to a readable width; the data itself (the warehouse, the file, `-o json`) is unchanged.
"""

from __future__ import annotations

import re
import unicodedata

# C0 controls, DEL, C1 controls; and the invisible Unicode marks that reorder or hide text
# (bidirectional marks, overrides and isolates, line/paragraph separators).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
CELL_CHARS = 120  # a console table cell shows at most this many characters


def printable(text: str) -> str:
    """`text` with every control character shown as an escape: `\\x1b`, `\\n`, `\\u2028`."""
    return _CONTROL.sub(_escape, text)


def terminal_lines(text: str) -> str:
    """Lines for a terminal: each line's control characters escaped, the line breaks kept."""
    return "\n".join(printable(line) for line in text.split("\n"))


def cell(text: str, limit: int = CELL_CHARS) -> str:
    """A table cell: cut to `limit` characters (ending in "…") before the escaping, so a 50 MB name
    costs no more than its first characters."""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return printable(text)


def display_width(text: str) -> int:
    """Columns `text` takes on a terminal: wide and fullwidth characters (CJK, most emoji) two,
    combining marks and other zero-width characters none, the rest one. Padding by `len` pushed a
    row with `e\u0301` or an emoji out of line with the others. ASCII text is one column a character
    (escaped controls included): counted at once, not character by character."""
    if text.isascii():
        return len(text)
    return sum(_char_width(char) for char in text)


def pad(text: str, width: int) -> str:
    """`text` followed by spaces up to `width` terminal columns."""
    return text + " " * (width - display_width(text))


def _char_width(char: str) -> int:
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in "WF" else 1


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"
