"""Rows -> `c1.connector.v2` message bytes, encoded directly (the protobuf library only for the few
resource types and annotations).

Almost all bytes of a grant repeat: its entitlement embeds the whole group resource. So a grant is
assembled by concatenating pre-encoded length-delimited fields: the entitlement field once per
group, the principal field once per principal, and only the grant id per grant; users, groups and
entitlements are encoded field by field the same way. `tests/c1z/test_encode.py` proves every one
equals the protobuf library's deterministic serialization of the message built the plain way
(the test oracle `tests/c1z/messages.py`).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from google.protobuf import any_pb2, timestamp_pb2
from google.protobuf.message import Message

from pipelines.c1z.ids import MEMBER_SLUG, entitlement_id
from pipelines.c1z.proto import pb
from pipelines.c1z.rows import EntitlementRow, GroupRow, UserRow

USER_TYPE = "user"
GROUP_TYPE = "group"

_USER_STATUS = {
    "ENABLED": pb.UserTrait.Status.STATUS_ENABLED,
    "DISABLED": pb.UserTrait.Status.STATUS_DISABLED,
    "UNSPECIFIED": pb.UserTrait.Status.STATUS_UNSPECIFIED,
}
_RESOURCE_STATUS = {
    "ENABLED": pb.Status.RESOURCE_STATUS_ENABLED,
    "DISABLED": pb.Status.RESOURCE_STATUS_DISABLED,
    "UNSPECIFIED": pb.Status.RESOURCE_STATUS_UNSPECIFIED,
}


def serialize(message: Message) -> bytes:
    """The one encoding used for every `data` column: deterministic (map keys sorted)."""
    return message.SerializeToString(deterministic=True)


def pack_any(message: Message) -> any_pb2.Any:
    """An Any with baton's type URL `type.googleapis.com/c1.connector.v2.<Message>`."""
    return any_pb2.Any(
        type_url=f"type.googleapis.com/{message.DESCRIPTOR.full_name}",
        value=message.SerializeToString(deterministic=True),
    )


def timestamp(moment: datetime) -> timestamp_pb2.Timestamp:
    """A Timestamp; naive datetimes are taken as UTC (the mapping always produces aware ones)."""
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    return stamp


def resource_type_message(type_id: str) -> pb.ResourceType:
    """The two resource types this connector syncs, exactly as baton-sdk's helpers build them."""
    if type_id == USER_TYPE:
        return pb.ResourceType(
            id=USER_TYPE,
            display_name="User",
            traits=[pb.ResourceType.TRAIT_USER],
            annotations=[pack_any(pb.SkipEntitlementsAndGrants())],
        )
    if type_id == GROUP_TYPE:
        return pb.ResourceType(id=GROUP_TYPE, display_name="Group", traits=[pb.ResourceType.TRAIT_GROUP])
    raise ValueError(f"unknown resource type {type_id!r}")


def expansion_bytes(child_group_id: str) -> bytes:
    """The `expansion` column of a nested-group grant: a serialized GrantExpandable."""
    return serialize(pb.GrantExpandable(entitlement_ids=[entitlement_id(child_group_id)]))


# --- byte-level fast path for grants -------------------------------------------------------------


def varint(value: int) -> bytes:
    """Protobuf base-128 varint of a non-negative int."""
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


SMALL_VARINTS = tuple(varint(n) for n in range(16_384))  # every length a grant field can have


def length_delimited(field_number: int, payload: bytes) -> bytes:
    """One wire-type-2 field: tag, length, payload (field numbers here are all < 16)."""
    size = len(payload)
    prefix = SMALL_VARINTS[size] if size < 16_384 else varint(size)
    return bytes(((field_number << 3) | 2,)) + prefix + payload


def grant_entitlement_field(group_resource_bytes: bytes, entitlement_id_: str) -> bytes:
    """Grant field 1, `Entitlement{resource, id}`: computed once per group, reused by every grant."""
    entitlement = length_delimited(1, group_resource_bytes) + length_delimited(2, entitlement_id_.encode())
    return length_delimited(1, entitlement)


def entitlement_head_size(group_resource_size: int, entitlement_id_: str) -> int:
    """Bytes of an entitlement's first two fields (resource, id), where `entitlement_bytes` begins:
    `grant_entitlement_field` is these bytes as one field, so a grant's can be cut from its stored
    entitlement (`length_delimited(1, head)`) instead of being held beside it."""
    id_size = len(entitlement_id_.encode())
    return 2 + len(_length(group_resource_size)) + group_resource_size + len(_length(id_size)) + id_size


def grant_principal_field(principal_type: str, principal_id: str) -> bytes:
    """Grant field 2, `Resource{id: ResourceId{type, id}}`, as baton writes principals."""
    resource_id = length_delimited(1, principal_type.encode()) + length_delimited(2, principal_id.encode())
    return length_delimited(2, length_delimited(1, resource_id))


def grant_bytes(entitlement_field: bytes, principal_field: bytes, grant_id: str) -> bytes:
    """A whole serialized Grant from its pre-encoded parts (fields in number order, as protobuf does)."""
    id_bytes = grant_id.encode()
    size = len(id_bytes)
    id_length = SMALL_VARINTS[size] if size < 16_384 else varint(size)
    return entitlement_field + principal_field + b"\x1a" + id_length + id_bytes


def _length(size: int) -> bytes:
    return SMALL_VARINTS[size] if size < 16_384 else varint(size)


# --- byte-level fast path for users (Struct/Value by hand) ------------------------------------------
#
# A user resource costs ~40 us through the library (most of it building the profile Struct), and a
# large tenant has 100,000 of them. The wire format of the few messages involved is simple, so they are
# written here directly; `tests/c1z/test_encode.py` proves the bytes equal the library's
# `SerializeToString(deterministic=True)` of `user_resource()` over varied rows.

_pack_double = struct.Struct("<d").pack
_TIMESTAMP_MIN = -62_135_596_800  # 0001-01-01T00:00:00Z, the range `Timestamp.FromDatetime` accepts
_TIMESTAMP_MAX = 253_402_300_799  # 9999-12-31T23:59:59Z
_EPOCH_NAIVE = datetime(1970, 1, 1)
_EPOCH_AWARE = datetime(1970, 1, 1, tzinfo=UTC)
_USER_TRAIT_URL = length_delimited(1, f"type.googleapis.com/{pb.UserTrait.DESCRIPTOR.full_name}".encode())
_USER_RESOURCE_ID_PREFIX = b"\n\x04user"
_HUMAN = b"\x28\x01"  # UserTrait.account_type = ACCOUNT_TYPE_HUMAN


def _int_varint(value: int) -> bytes:
    """Varint of a signed int64/int32 field value (negatives are ten bytes, two's complement)."""
    return varint(value if value >= 0 else value + (1 << 64))


def _value_bytes(value: Any) -> bytes:
    """A serialized `google.protobuf.Value`, choosing the kind as `Struct.update` does.

    A oneof member is written even when it holds its default (false, 0.0, ""), as the library does.
    """
    kind = type(value)  # exact types first: profiles are JSON, so these are nearly all values
    if kind is str:
        data = value.encode()
        return b"\x1a" + _length(len(data)) + data
    if kind is float or kind is int:
        return b"\x11" + _pack_double(value)
    if kind is dict:
        data = _struct_bytes(value)
        return b"\x2a" + _length(len(data)) + data
    if kind is list:
        data = b"".join([b"\x0a" + _length(len(item)) + item for item in map(_value_bytes, value)])
        return b"\x32" + _length(len(data)) + data
    if value is None:
        return b"\x08\x00"  # null_value = NULL_VALUE
    if value is True:
        return b"\x20\x01"
    if value is False:
        return b"\x20\x00"
    if isinstance(value, str):
        data = value.encode()
        return b"\x1a" + _length(len(data)) + data
    if isinstance(value, int | float):
        return b"\x11" + _pack_double(value)
    if isinstance(value, Mapping):
        data = _struct_bytes(value)
        return b"\x2a" + _length(len(data)) + data
    if isinstance(value, list | tuple):
        items = [_value_bytes(item) for item in value]
        data = b"".join([b"\x0a" + _length(len(item)) + item for item in items])
        return b"\x32" + _length(len(data)) + data
    raise ValueError(f"Unexpected type {type(value).__name__} in a profile")


def _map_key_order(key: str) -> bytes:
    return key.encode() + b"\xff"


def _struct_bytes(fields: Mapping[Any, Any]) -> bytes:
    """A serialized `google.protobuf.Struct` of `fields` with None values dropped.

    Map entries always carry both key and value, and come in the order the library's deterministic
    serialization (upb) uses: by UTF-8 bytes, except that where one key is a prefix of another the
    LONGER key comes first ("ab" before "a", "" last). Appending 0xff, a byte UTF-8 never contains,
    to each key gives exactly that order under plain bytes comparison.

    Profiles of one kind share their key set, so the sorted, pre-encoded entry heads are cached per
    tuple of keys as given (None values included, skipped here); only all-`str` key tuples are cached,
    so `1`, `1.0` and `True` (equal as dict keys) never share a layout. A short string value (most of
    a profile) takes three table lookups and one join; bools are whole pre-encoded entries, numbers
    a pre-encoded head and their 8 bytes.
    """
    layout = _STRUCT_LAYOUTS.get(tuple(fields))
    if layout is None:
        return _struct_bytes_uncached(fields)
    heads = _STRING_ENTRY_HEADS
    tails = _STRING_VALUE_HEADS
    parts: list[bytes] = []
    for key, head, room, true_entry, false_entry, number_head in layout:
        value = fields[key]
        kind = type(value)
        if kind is str:
            data = value.encode()
            size = len(data)
            if size < room:  # every length below is one byte
                parts += (heads[len(head) + size + 3], head, tails[size], data)
                continue
            parts.append(_entry(head, b"\x1a" + _length(size) + data))
        elif value is None:
            continue
        elif kind is bool:
            parts.append(true_entry if value else false_entry)
        elif kind is float or kind is int:
            parts += (number_head, _pack_double(value))
        else:
            parts.append(_entry(head, _value_bytes(value)))
    return b"".join(parts)


def _entry(head: bytes, value_bytes: bytes) -> bytes:
    """One Struct map entry (field 1 of Struct): its key head, then the Value as field 2."""
    value_size = _length(len(value_bytes))
    return b"\x0a" + _length(len(head) + len(value_size) + len(value_bytes)) + head + value_size + value_bytes


def _struct_bytes_uncached(fields: Mapping[Any, Any]) -> bytes:
    """`_struct_bytes` for a tuple of keys seen for the first time (then cached), or non-str keys."""
    keys = tuple(fields)
    if all(type(key) is str for key in keys) and len(_STRUCT_LAYOUTS) < _STRUCT_LAYOUTS_MAX:
        _STRUCT_LAYOUTS[keys] = _layout(keys)
        return _struct_bytes(fields)
    cleaned = {str(k): v for k, v in fields.items() if v is not None}
    parts = []
    for key, head, _room, _true, _false, _number in _layout(tuple(cleaned)):
        value = cleaned[key]
        if type(value) is str:
            data = value.encode()
            parts.append(_entry(head, b"\x1a" + _length(len(data)) + data))
        else:
            parts.append(_entry(head, _value_bytes(value)))
    return b"".join(parts)


def _layout(keys: tuple[str, ...]) -> tuple[_LayoutEntry, ...]:
    """Per key in map entry order: key, entry head, the longest short string, bool entries, and
    a number's entry up to its 8 bytes of double (a number Value is always 9 bytes)."""
    layout = []
    for key in sorted(keys, key=_map_key_order):
        encoded = key.encode()
        head = b"\x0a" + _length(len(encoded)) + encoded + b"\x12"
        true_entry, false_entry = _entry(head, b"\x20\x01"), _entry(head, b"\x20\x00")
        number_head = b"\x0a" + _length(len(head) + 10) + head + b"\x09\x11"
        layout.append((key, head, 125 - len(head), true_entry, false_entry, number_head))
    return tuple(layout)


_LayoutEntry = tuple[str, bytes, int, bytes, bytes, bytes]
_STRUCT_LAYOUTS: dict[tuple[str, ...], tuple[_LayoutEntry, ...]] = {}
_STRUCT_LAYOUTS_MAX = 4096
# A string entry whose key head and value are short enough that every length is one byte:
# entry tag and size, then (after the head) the Value size, the string_value tag and the string size.
_STRING_ENTRY_HEADS = tuple(b"\x0a" + bytes((size,)) for size in range(128))
_STRING_VALUE_HEADS = tuple(bytes((size + 2,)) + b"\x1a" + bytes((size,)) for size in range(126))


def profile_bytes(profile: Mapping[str, Any] | None) -> bytes | None:
    """`serialize(profile_struct(profile))`, or None where `profile_struct` gives None.

    A Struct with at least one entry never serializes to b"", so empty bytes mean "nothing left".
    """
    if not profile:
        return None
    return _struct_bytes(profile) or None


def timestamp_bytes(moment: datetime | int) -> bytes:
    """`serialize(timestamp(moment))`: seconds and nanos computed as `Timestamp.FromDatetime` does.

    An int is microseconds since the Unix epoch (UTC), as the warehouse's `epoch_us` reads a
    TIMESTAMP: no datetime is built for it at all.
    """
    if type(moment) is int:
        seconds, micros = divmod(moment, 1_000_000)  # floors, as below
        if not _TIMESTAMP_MIN <= seconds <= _TIMESTAMP_MAX:
            raise ValueError(f"timestamp {moment} us since the epoch is outside 0001-01-01..9999-12-31")
    else:
        delta = moment - (_EPOCH_AWARE if moment.tzinfo else _EPOCH_NAIVE)  # naive = UTC, as the library
        seconds = delta.days * 86_400 + delta.seconds  # floors like timegm(utctimetuple()), ~10x cheaper
        if not _TIMESTAMP_MIN <= seconds <= _TIMESTAMP_MAX:
            return serialize(timestamp(moment))  # the library raises its own error for this
        micros = moment.microsecond
    millis, rest = divmod(micros, 1000)
    nanos = b"\x10" + _int_varint(micros * 1000) if rest else _MILLI_NANOS[millis]
    if 0x1000_0000 <= seconds < 0x8_0000_0000:  # mid-1978 to 3058: a five-byte varint, in one step
        return (
            bytes(
                (
                    0x08,
                    seconds & 0x7F | 0x80,
                    seconds >> 7 & 0x7F | 0x80,
                    seconds >> 14 & 0x7F | 0x80,
                    seconds >> 21 & 0x7F | 0x80,
                    seconds >> 28,
                )
            )
            + nanos
        )
    return (b"\x08" + _int_varint(seconds) if seconds else b"") + nanos


# Timestamp field 2 (nanos) of each whole millisecond, as xMatters' times are: none for 0
_MILLI_NANOS = (b"",) + tuple(b"\x10" + _int_varint(millis * 1_000_000) for millis in range(1, 1000))


def _string_field(tag: bytes, text: str | None) -> bytes:
    """A proto3 string field: absent when empty."""
    if not text:
        return b""
    data = text.encode()
    return tag + _length(len(data)) + data


def _message_field(tag: bytes, payload: bytes) -> bytes:
    """A set sub-message field: written even when its payload is empty."""
    return tag + _length(len(payload)) + payload


def _status_payload(status: int, details: str | None) -> bytes:
    return (b"\x08" + varint(status) if status else b"") + _string_field(b"\x12", details)


def user_resource_bytes(user: UserRow) -> bytes:
    """`serialize(user_resource(user))`, built from bytes (about 10x faster than the library).

    The common user (no emails, no status details, no timestamps) takes the fewest steps: status
    fields come pre-encoded per status, and each part is written as tag, length, payload in one join.
    """
    (
        user_id,
        display_name,
        status,
        status_details,
        login,
        given_name,
        family_name,
        profile,
        emails,
        created_at,
        last_login,
        login_aliases,
        employee_ids,
    ) = user
    small = SMALL_VARINTS
    trait: list[bytes] = []
    for address, primary in emails:
        trait.append(
            _message_field(b"\x0a", _string_field(b"\x0a", address) + (b"\x10\x01" if primary else b""))
        )
    if status_details:
        trait.append(_message_field(b"\x12", _status_payload(_USER_STATUS[status], status_details)))
        resource_status = _message_field(b"\x5a", _status_payload(_RESOURCE_STATUS[status], status_details))
    else:
        trait.append(_USER_STATUS_FIELDS[status])
        resource_status = _RESOURCE_STATUS_FIELDS[status]
    profile_field = b""
    if profile:
        struct = _struct_bytes(profile)
        if struct:
            size = len(struct)
            profile_field = (small[size] if size < 16_384 else varint(size)) + struct
            trait += (b"\x1a", profile_field)
    trait.append(_HUMAN)
    if login:
        data = login.encode()
        size = len(data)
        trait += (b"\x32", small[size] if size < 16_384 else varint(size), data)
    for alias in login_aliases:  # repeated string: every item written, even an empty one
        trait.append(_message_field(b"\x3a", alias.encode()))
    if created_at is not None:
        created = timestamp_bytes(created_at)  # at most 16 bytes: its length is one byte
        trait += (b"\x42", small[len(created)], created)
    if last_login is not None:
        data = timestamp_bytes(last_login)
        trait += (b"\x4a", small[len(data)], data)
    if given_name or family_name:
        trait.append(
            _message_field(b"\x62", _string_field(b"\x0a", given_name) + _string_field(b"\x12", family_name))
        )
    for employee_id in employee_ids:
        trait.append(_message_field(b"\x6a", employee_id.encode()))
    trait_bytes = b"".join(trait)
    trait_size = len(trait_bytes)
    any_size = _USER_TRAIT_URL_SIZE + 1 + len(_length(trait_size)) + trait_size

    id_bytes = user_id.encode()
    size = len(id_bytes)
    if 0 < size < 120:  # ResourceId{type "user", resource} with one-byte lengths
        resource = [b"\x0a", small[size + 8], _USER_RESOURCE_ID_PREFIX, b"\x12", small[size], id_bytes]
    else:
        resource = [_message_field(b"\x0a", _USER_RESOURCE_ID_PREFIX + _string_field(b"\x12", user_id))]
    if display_name:
        data = display_name.encode()
        size = len(data)
        resource += (b"\x1a", small[size] if size < 16_384 else varint(size), data)
    resource += (b"\x22", _length(any_size), _USER_TRAIT_URL, b"\x12", _length(trait_size), trait_bytes)
    if profile_field:
        resource += (b"\x4a", profile_field)
    resource.append(resource_status)
    if created_at is not None:
        resource += (b"\x62", small[len(created)], created)
    return b"".join(resource)


_USER_TRAIT_URL_SIZE = len(_USER_TRAIT_URL)
_USER_STATUS_FIELDS = {
    name: _message_field(b"\x12", _status_payload(value, None)) for name, value in _USER_STATUS.items()
}
_RESOURCE_STATUS_FIELDS = {
    name: _message_field(b"\x5a", _status_payload(value, None)) for name, value in _RESOURCE_STATUS.items()
}


def user_principal_field(user_id: str) -> bytes:
    """`grant_principal_field("user", user_id)` with fewer calls: computed once per user."""
    id_bytes = user_id.encode()
    resource_id = _USER_RESOURCE_ID_PREFIX + b"\x12" + _length(len(id_bytes)) + id_bytes
    resource = b"\x0a" + _length(len(resource_id)) + resource_id
    return b"\x12" + _length(len(resource)) + resource


# --- byte-level groups and entitlements ---------------------------------------------------------
#
# Through the library a group resource and its entitlement cost ~60 us (the profile Struct most of
# it); `tests/c1z/test_encode.py` proves these equal the library's deterministic serialization.

_GROUP_TRAIT_URL = length_delimited(1, f"type.googleapis.com/{pb.GroupTrait.DESCRIPTOR.full_name}".encode())
_GROUP_RESOURCE_ID_PREFIX = b"\n\x05group"
# Entitlement.purpose = ASSIGNMENT (field 7), slug (field 8)
_ASSIGNMENT_MEMBER = b"\x38\x01" + length_delimited(8, MEMBER_SLUG.encode())


def group_resource_bytes(group: GroupRow) -> bytes:
    """`serialize(group_resource(group))`: id, display name, GroupTrait Any, description, profile."""
    profile = profile_bytes(group.profile)
    if profile is None:
        trait_any = _GROUP_TRAIT_URL  # an empty GroupTrait: the Any's value is absent
        profile_field = b""
    else:
        trait = b"\x12" + _length(len(profile)) + profile
        trait_any = _GROUP_TRAIT_URL + b"\x12" + _length(len(trait)) + trait
        profile_field = b"\x4a" + _length(len(profile)) + profile
    return b"".join(
        (
            _message_field(b"\x0a", _GROUP_RESOURCE_ID_PREFIX + _string_field(b"\x12", group.group_id)),
            _string_field(b"\x1a", group.display_name),
            _message_field(b"\x22", trait_any),
            _string_field(b"\x2a", group.description),
            profile_field,
        )
    )


def entitlement_bytes(entitlement: EntitlementRow, group_resource: bytes, grantable_to: list[bytes]) -> bytes:
    """`serialize(entitlement_message(...))` from the serialized group resource and resource types."""
    return b"".join(
        (
            _message_field(b"\x0a", group_resource),
            _string_field(b"\x12", entitlement_id(entitlement.group_id)),
            _string_field(b"\x1a", entitlement.display_name),
            _string_field(b"\x22", entitlement.description),
            *[_message_field(b"\x2a", resource_type) for resource_type in grantable_to],
            _ASSIGNMENT_MEMBER,
        )
    )
