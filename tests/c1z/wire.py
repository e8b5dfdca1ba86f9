"""A schema-guided protobuf wire walker for the golden tests.

Go's protobuf marshaller writes map entries (Struct fields) in random order, while Python's
deterministic serialization sorts them by key. `canonical` re-emits bytes exactly as they are except
that map entries are sorted, and fails on any field number or wire type our descriptors do not
declare. Comparing our re-encoding with `canonical(original)` therefore proves the field numbers.
"""

from __future__ import annotations

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.symbol_database import Default

_VARINT_TYPES = {
    FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_BOOL, FieldDescriptor.TYPE_ENUM,
}  # fmt: skip
_FIXED64_TYPES = {FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FIXED64, FieldDescriptor.TYPE_SFIXED64}
_FIXED32_TYPES = {FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_FIXED32, FieldDescriptor.TYPE_SFIXED32}


class WireMismatch(AssertionError):
    pass


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


# The same few lines as pipelines/c1z/encode.py's `varint`, on purpose: this walker is the test
# oracle for that encoder, so it must not share code with it.
def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _check_wire(field: FieldDescriptor, wire: int, where: str) -> None:
    if wire == 2:
        length_types = (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES, FieldDescriptor.TYPE_MESSAGE)
        ok = field.type in length_types
        ok = ok or field.is_repeated  # packed repeated scalars
    elif wire == 0:
        ok = field.type in _VARINT_TYPES
    elif wire == 1:
        ok = field.type in _FIXED64_TYPES
    else:
        ok = wire == 5 and field.type in _FIXED32_TYPES
    if not ok:
        raise WireMismatch(f"{where}.{field.name}: wire type {wire} does not fit field type {field.type}")


def message_class(type_url: str) -> type:
    return Default().GetSymbol(type_url.rsplit("/", 1)[-1])


def canonical(data: bytes, descriptor: Descriptor) -> bytes:
    """`data` re-emitted with map entries sorted by key; raises on undeclared fields."""
    parts: list[bytes | int] = []
    map_entries: dict[int, list[tuple[bytes, bytes]]] = {}
    pos = 0
    while pos < len(data):
        start = pos
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        field = descriptor.fields_by_number.get(number)
        if field is None:
            raise WireMismatch(f"{descriptor.full_name}: undeclared field number {number}")
        _check_wire(field, wire, descriptor.full_name)
        tag = data[start:pos]
        if wire == 0:
            _, end = _varint(data, pos)
        elif wire == 1:
            end = pos + 8
        elif wire == 5:
            end = pos + 4
        else:
            length, pos = _varint(data, pos)
            end = pos + length
        raw = data[pos:end]
        pos = end
        if wire == 2 and field.type == FieldDescriptor.TYPE_MESSAGE:
            if field.message_type.full_name == "google.protobuf.Any":
                raw = _canonical_any(raw)
            else:
                raw = canonical(raw, field.message_type)
            if field.message_type.GetOptions().map_entry:
                entry_key, key_end = b"", 0
                if raw[:1] == b"\x0a":
                    key_length, key_start = _varint(raw, 1)
                    key_end = key_start + key_length
                    entry_key = raw[key_start:key_end]
                if number not in map_entries:
                    parts.append(number)
                    map_entries[number] = []
                map_entries[number].append((entry_key, tag + _encode_varint(len(raw)) + raw))
                continue
            raw = _encode_varint(len(raw)) + raw
        elif wire == 2:
            raw = _encode_varint(len(raw)) + raw
        parts.append(tag + raw)
    out = bytearray()
    for part in parts:
        if isinstance(part, int):
            out += b"".join(entry for _, entry in sorted(map_entries[part]))
        else:
            out += part
    return bytes(out)


def _canonical_any(raw: bytes) -> bytes:
    from google.protobuf import any_pb2

    packed = any_pb2.Any.FromString(raw)
    value = canonical(packed.value, message_class(packed.type_url).DESCRIPTOR)
    return any_pb2.Any(type_url=packed.type_url, value=value).SerializeToString(deterministic=True)
