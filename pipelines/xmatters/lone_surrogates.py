"""Lone UTF-16 surrogates in JSON text, replaced by U+FFFD as Go's `encoding/json` does.

JSON may spell a string with `\\ud83d` escapes, and a server that cuts a name between the two
halves of a surrogate pair (a Java `String` cut at a UTF-16 length) sends one half alone. That is
legal JSON syntax but no Unicode text: Python's `json` keeps it as a lone surrogate, which no UTF-8
encoder (Arrow, DuckDB, protobuf) accepts, so one such name failed the whole sync with a
`UnicodeEncodeError`. C1's Go connector decodes it as U+FFFD (the replacement character); so do we.
"""

from __future__ import annotations

import re
from typing import Any

# `\ud800`-`\udfff` escapes; a literal backslash before `ud8..` only costs a needless walk.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def may_hold_lone_surrogates(content: bytes) -> bool:
    """Whether a JSON body has a surrogate escape (valid pairs too: the decoder joins those)."""
    return _SURROGATE_ESCAPE.search(content) is not None


def _text(value: str) -> str:
    if _SURROGATE.search(value) is None:
        return value
    return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def replace_lone_surrogates(value: Any) -> Any:
    """`value` (decoded JSON) with every lone surrogate in its strings and keys replaced by U+FFFD.

    Iterative, so a document as deep as the JSON decoder accepted cannot exhaust the stack here."""
    if isinstance(value, str):
        return _text(value)
    if not isinstance(value, dict | list):
        return value
    stack: list[Any] = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            for index, item in enumerate(node):
                if isinstance(item, str):
                    node[index] = _text(item)
                elif isinstance(item, dict | list):
                    stack.append(item)
        else:
            for key in [k for k in node if _SURROGATE.search(k) is not None]:
                node[_text(key)] = node.pop(key)
            for key, item in node.items():
                if isinstance(item, str):
                    node[key] = _text(item)
                elif isinstance(item, dict | list):
                    stack.append(item)
    return value
