"""The warning that names what the `.c1z` got shortened to C1's limits (run log and CLI summary).

Why: shortening is not an error (C1 would refuse the full text), but a user who searches C1 for a
group's whole name must learn why it is not there, and which objects it concerns. Names can be
thousands of bytes of any script with control and bidirectional characters, so each is abbreviated
and those characters are shown escaped: one warning stays one readable line.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

SHORTENED_EXAMPLES = 20  # objects listed in the metadata
_NAMED = 3  # objects named in the warning line
_NAME_CHARS = 16


def abbreviate(name: str | None) -> str:
    """The first characters of a name, control/format/separator characters escaped, "…" if cut."""
    text = name or ""
    head = "".join(_visible(c) for c in text[:_NAME_CHARS])
    return head + ("…" if len(text) > _NAME_CHARS else "")


def _visible(char: str) -> str:
    if unicodedata.category(char) in {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}:
        return f"\\u{ord(char):04x}"
    return char


def shortened_lines(objects: Sequence[dict[str, Any]], total: int | None = None) -> list[str]:
    """One warning line for `total` (default: all of `objects`) shortened objects, the first named."""
    count = len(objects) if total is None else total
    if not count:
        return []
    named = ", ".join(f"{o['type']} {o['name']}" for o in objects[:_NAMED])
    more = f", and {count - _NAMED} more" if count > _NAMED else ""
    noun = "object" if count == 1 else "objects"
    return [f"{count} {noun} with names or descriptions shortened to C1's limits: {named}{more}"]
