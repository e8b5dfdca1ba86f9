"""The warnings that name what the `.c1z` got shortened to C1's limits, or left out (email addresses C1's
rule refuses), for the run log and the CLI summary.

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
NAME_CHARS = 16  # of a name shown (the query of shortened objects reads one more: the "…")
_ADDRESS_CHARS = 64


def abbreviate(name: str | None, chars: int = NAME_CHARS) -> str:
    """The first `chars` characters of a name, control/format/separator characters escaped, "…" if cut."""
    text = name or ""
    head = "".join(_visible(c) for c in text[:chars])
    return head + ("…" if len(text) > chars else "")


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


def left_out_lines(left_out: Sequence[dict[str, Any]], total: int | None = None) -> list[str]:
    """One warning line for email addresses C1's email rule refuses (left out of the `.c1z`)."""
    count = len(left_out) if total is None else total
    if not count:
        return []
    named = ", ".join(abbreviate(item["address"], _ADDRESS_CHARS) for item in left_out[:_NAMED])
    more = f", and {count - _NAMED} more" if count > _NAMED else ""
    noun = "address" if count == 1 else "addresses"
    return [f"{count} email {noun} left out of the sync file, not valid for C1: {named}{more}"]
