"""The few fields a console listing shows, read from a stored message without decoding all of it.

`inspect`'s tables show ids and display names. Decoding a whole row to print them holds the row
three times over (SQLite's blob, the decoded message, the Python string): a crafted 50 MB display
name took 270 MB, and a grant embeds its principal and its group, names included. Here the
protobuf wire format is walked through SQLite's incremental blob I/O: fields that are not shown are
skipped by seeking, and a shown string is read only up to what a console cell can show.

Field numbers are baton-sdk's (c1/connector/v2): Resource{id=1, parent_resource_id=2,
display_name=3}, ResourceId{resource_type=1, resource=2}, Entitlement{resource=1, id=2,
display_name=3, slug=8}, Grant{entitlement=1, principal=2, id=3}.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from pipelines.c1z.errors import C1ZFormatError

SHOWN_BYTES = 4 * 120  # enough UTF-8 for a console cell of 120 characters (terminal_text.CELL_CHARS)
_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5


class Blob(Protocol):
    def read(self, length: int = -1, /) -> bytes: ...
    def seek(self, offset: int, origin: int = 0, /) -> None: ...
    def tell(self) -> int: ...


@dataclass(frozen=True)
class ResourceKey:
    resource_type: str
    resource: str


@dataclass(frozen=True)
class ResourceSummary:
    id: ResourceKey
    parent: ResourceKey | None
    display_name: str  # at most SHOWN_BYTES of it, ending in "…" when cut


@dataclass(frozen=True)
class EntitlementSummary:
    id: str
    resource: ResourceKey
    display_name: str
    slug: str


@dataclass(frozen=True)
class GrantSummary:
    id: str
    entitlement_id: str
    resource: ResourceKey
    principal: ResourceKey


def summarize_resource(resource: Any) -> ResourceSummary:
    """The same summary from a decoded `Resource` (a row small enough to decode whole)."""
    parent = resource.parent_resource_id if resource.HasField("parent_resource_id") else None
    return ResourceSummary(
        id=ResourceKey(resource.id.resource_type, resource.id.resource),
        parent=ResourceKey(parent.resource_type, parent.resource) if parent is not None else None,
        display_name=resource.display_name,
    )


def summarize_entitlement(entitlement: Any) -> EntitlementSummary:
    key = entitlement.resource.id
    return EntitlementSummary(
        id=entitlement.id,
        resource=ResourceKey(key.resource_type, key.resource),
        display_name=entitlement.display_name,
        slug=entitlement.slug,
    )


def summarize_grant(grant: Any) -> GrantSummary:
    resource, principal = grant.entitlement.resource.id, grant.principal.id
    return GrantSummary(
        id=grant.id,
        entitlement_id=grant.entitlement.id,
        resource=ResourceKey(resource.resource_type, resource.resource),
        principal=ResourceKey(principal.resource_type, principal.resource),
    )


def resource_summary(blob: Blob, end: int) -> ResourceSummary:
    fields = _fields(blob, end, {1: "message", 2: "message", 3: "string"})
    return ResourceSummary(
        id=_key(fields.get(1)),
        parent=_key(fields[2]) if 2 in fields else None,
        display_name=fields.get(3, ""),
    )


def entitlement_summary(blob: Blob, end: int) -> EntitlementSummary:
    fields = _fields(blob, end, {1: "resource", 2: "string", 3: "string", 8: "string"})
    resource = fields.get(1)
    return EntitlementSummary(
        id=fields.get(2, ""),
        resource=resource.id if resource is not None else ResourceKey("", ""),
        display_name=fields.get(3, ""),
        slug=fields.get(8, ""),
    )


def grant_summary(blob: Blob, end: int) -> GrantSummary:
    fields = _fields(blob, end, {1: "entitlement", 2: "resource", 3: "string"})
    entitlement = fields.get(1) or EntitlementSummary("", ResourceKey("", ""), "", "")
    principal = fields.get(2)
    return GrantSummary(
        id=fields.get(3, ""),
        entitlement_id=entitlement.id,
        resource=entitlement.resource,
        principal=principal.id if principal is not None else ResourceKey("", ""),
    )


def _key(fields: object) -> ResourceKey:
    found = fields if isinstance(fields, dict) else {}
    return ResourceKey(str(found.get(1, "")), str(found.get(2, "")))


def _fields(blob: Blob, end: int, wanted: dict[int, str]) -> dict[int, object]:
    """The wanted fields of the message between the blob's position and `end` (last one wins)."""
    found: dict[int, object] = {}
    while blob.tell() < end:
        tag = _varint(blob)
        number, wire_type = tag >> 3, tag & 7
        if wire_type == _VARINT:
            _varint(blob)
        elif wire_type == _I64:
            _skip(blob, 8, end)
        elif wire_type == _I32:
            _skip(blob, 4, end)
        elif wire_type == _LEN:
            length = _varint(blob)
            start = blob.tell()
            if start + length > end:
                raise C1ZFormatError("a length-delimited field runs past the end of its message")
            kind = wanted.get(number)
            if kind == "string":
                found[number] = _text(blob.read(min(length, SHOWN_BYTES)), cut=length > SHOWN_BYTES)
            elif kind == "message":
                found[number] = _fields(blob, start + length, {1: "string", 2: "string"})
            elif kind == "resource":
                found[number] = resource_summary(blob, start + length)
            elif kind == "entitlement":
                found[number] = entitlement_summary(blob, start + length)
            blob.seek(start + length)
        else:
            raise C1ZFormatError(f"unsupported protobuf wire type {wire_type}")
    if blob.tell() != end:
        raise C1ZFormatError("a field runs past the end of its message")
    return found


def _varint(blob: Blob) -> int:
    value = shift = 0
    while True:
        byte = blob.read(1)
        if not byte:
            raise C1ZFormatError("a protobuf varint is cut off")
        value |= (byte[0] & 0x7F) << shift
        if byte[0] < 0x80:
            return value
        shift += 7
        if shift > 63:
            raise C1ZFormatError("a protobuf varint is too long")


def _skip(blob: Blob, length: int, end: int) -> None:
    if blob.tell() + length > end:
        raise C1ZFormatError("a fixed-size field runs past the end of its message")
    blob.seek(length, 1)


def _text(data: bytes, *, cut: bool) -> str:
    """UTF-8 text; a cut one is cut back to a character boundary and ends in "…"."""
    if not cut:
        return data.decode("utf-8", errors="replace")
    for trim in range(4):
        try:
            return data[: len(data) - trim].decode("utf-8") + "…"
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace") + "…"
