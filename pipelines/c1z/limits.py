"""ConductorOne's byte limits on the text this project writes, declared once, and the shortening rule.

Why: xMatters accepts text C1 refuses. baton-sdk's `.proto` files put protoc-gen-validate rules on
some string fields (`validate.rules`, e.g. `Resource.display_name`: 1-1024 bytes), and a message
that breaks one fails `ValidateAll()` in C1's reader: a Go connector's sync fails there. So every
value over its limit is cut at a UTF-8 character boundary and ends in "…" (the whole value, at
most `max_bytes`); the warehouse keeps the full text. The SQL that feeds the writer and the blocking
check on the staged tables both derive from `LIMITS` (see orchestration/c1_text.py).

Source: baton-sdk `proto/c1/connector/v2/{resource,entitlement,grant,annotation_trait}.proto`
(`../shared/interop/baton-sdk-protos/`). Fields the writer fills that carry no byte rule (user
login, login aliases, employee ids, structured name, profile values, slug) are listed in
docs/c1-mapping.md; ids carry a rule but cannot be shortened, so they are only checked.
"""

from __future__ import annotations

from dataclasses import dataclass

ELLIPSIS = "…"  # U+2026, 3 bytes in UTF-8
_ELLIPSIS_BYTES = len(ELLIPSIS.encode())


@dataclass(frozen=True)
class Limit:
    """One `validate.rules` string rule: `field` of C1 message `message`, in UTF-8 bytes.

    `ignore_empty`: an empty value is allowed (and the writer omits it); `min_bytes` applies otherwise.
    """

    message: str
    field: str
    max_bytes: int
    min_bytes: int = 1
    ignore_empty: bool = True


RESOURCE_DISPLAY_NAME = Limit("Resource", "display_name", 1024)
RESOURCE_DESCRIPTION = Limit("Resource", "description", 2048)
ENTITLEMENT_DISPLAY_NAME = Limit("Entitlement", "display_name", 1024)
ENTITLEMENT_DESCRIPTION = Limit("Entitlement", "description", 2048)
STATUS_DETAILS = Limit("Status", "details", 1024)  # Resource.status and UserTrait.status alike
# Ids: required (no ignore_empty), never shortened (they are keys): a longer one blocks publishing.
RESOURCE_ID = Limit("ResourceId", "resource", 1024, ignore_empty=False)
ENTITLEMENT_ID = Limit("Entitlement", "id", 1024, ignore_empty=False)
GRANT_ID = Limit("Grant", "id", 1024, ignore_empty=False)

LIMITS = (
    RESOURCE_DISPLAY_NAME,
    RESOURCE_DESCRIPTION,
    ENTITLEMENT_DISPLAY_NAME,
    ENTITLEMENT_DESCRIPTION,
    STATUS_DETAILS,
    RESOURCE_ID,
    ENTITLEMENT_ID,
    GRANT_ID,
)


def shorten(text: str | None, max_bytes: int) -> str | None:
    """`text` if it fits in `max_bytes` UTF-8 bytes, else its longest prefix that fits with "…".

    The cut falls on a character boundary (a partial multi-byte character is dropped), so the
    result is valid UTF-8 of at most `max_bytes` bytes. `len(text)` first: most text is short.
    """
    if text is None or len(text) * 4 <= max_bytes:
        return text
    data = text.encode()
    if len(data) <= max_bytes:
        return text
    return data[: max_bytes - _ELLIPSIS_BYTES].decode("utf-8", "ignore") + ELLIPSIS


def fits(text: str | None, limit: Limit) -> bool:
    """Whether a value passes the rule (empty and None count as empty)."""
    if not text:
        return limit.ignore_empty
    size = len(text.encode())
    return limit.min_bytes <= size <= limit.max_bytes
