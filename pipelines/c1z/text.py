"""What counts as a missing text value in xMatters data: absent, empty, or only whitespace.

Why: a name of spaces is no name. C1 accepts "  " as a display name (1 byte or more), and a user
would see a blank row; a blank name therefore falls back like a missing one. Whitespace is Unicode's
White_Space property (the 25 code points below), the same set in Python and in the SQL transforms
(`BLANK_SQL_PATTERN`, an RE2 pattern for DuckDB's `regexp_full_match`), so the two agree exactly.
Values that are not blank are kept as sent (not trimmed).

One character is removed first: U+0000 (NUL). JSON carries it (`"\\u0000"`), xMatters keeps it,
and protobuf and baton-sdk's validation accept it, but ConductorOne stores what it ingests in
PostgreSQL, whose `text` and `jsonb` refuse it: a name holding NUL would fail on C1's side, after
every check here passed. So no text the `.c1z` gets holds it (`c1_text` in SQL, `without_nul` for
profiles in the writer), and a value that was NUL and whitespace alone is blank. `xmatters_raw`
keeps what xMatters sent.
"""

from __future__ import annotations

import re
from typing import Any

# Unicode White_Space: TAB..CR, space, NEL, NBSP, OGHAM SPACE MARK, EN QUAD..HAIR SPACE, LINE and
# PARAGRAPH SEPARATOR, NARROW NBSP, MEDIUM MATHEMATICAL SPACE, IDEOGRAPHIC SPACE.
WHITESPACE_RANGES = (
    (0x09, 0x0D),
    (0x20, 0x20),
    (0x85, 0x85),
    (0xA0, 0xA0),
    (0x1680, 0x1680),
    (0x2000, 0x200A),
    (0x2028, 0x2029),
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
)


def _class(escape: str) -> str:
    parts = [
        escape.format(low) if low == high else f"{escape.format(low)}-{escape.format(high)}"
        for low, high in WHITESPACE_RANGES
    ]
    return "[" + "".join(parts) + "]*"


NUL = "\x00"
BLANK_SQL_PATTERN = _class("\\x{{{:x}}}")  # RE2 syntax: \x{2000}
_BLANK = re.compile(_class("\\U{:08x}"))


def is_blank(text: str) -> bool:
    """True for "" and for text made only of whitespace."""
    return _BLANK.fullmatch(text) is not None


def without_nul(value: str) -> str:
    """`value` without U+0000 (see the module doc)."""
    return value.replace(NUL, "") if NUL in value else value


def text(value: Any) -> str | None:
    """`value` without NUL when it is a string that is not blank then, else None."""
    if not isinstance(value, str):
        return None
    value = without_nul(value)
    return None if is_blank(value) else value
