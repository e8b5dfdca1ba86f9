"""The byte-level grant fast path equals protobuf's deterministic serialization; ids and times."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipelines.c1z import encode
from pipelines.c1z.proto import pb
from pipelines.c1z.rows import GroupRow, grant_id
from pipelines.c1z.sync_ids import format_sync_time, ksuid_time, new_ksuid, parse_sync_time
from tests.c1z.wire import WireMismatch, canonical


@pytest.mark.parametrize(
    ("group_id", "principal_type", "principal_id"),
    [
        ("6d1c4b2e-8f1a-4c55-9a57-0c9d7b3e2f10", "user", "b1e0c5a4-1111-4222-8333-944455556666"),
        ("ünï-çødé グループ", "user", "用户-1"),
        ("g" * 300, "group", "child"),  # lengths over 127 need two-byte varints
    ],
)
def test_grant_fast_path_equals_library_encoding(
    group_id: str, principal_type: str, principal_id: str
) -> None:
    group = encode.group_resource(
        GroupRow(group_id, "Ops ☎", description="d" * 200, profile={"targetName": "Ops", "n": 3, "x": None})
    )
    the_id = grant_id(group_id, principal_type, principal_id)
    fast = encode.grant_bytes(
        encode.grant_entitlement_field(encode.serialize(group), f"group:{group_id}:member"),
        encode.grant_principal_field(principal_type, principal_id),
        the_id,
    )
    assert fast == encode.serialize(encode.grant_message(group, the_id, principal_type, principal_id))


def test_varint_matches_protobuf() -> None:
    from google.protobuf.internal.encoder import _VarintBytes

    for value in (0, 1, 127, 128, 300, 16_383, 16_384, 2**31):
        assert encode.varint(value) == _VarintBytes(value)
        assert encode.length_delimited(3, b"y" * min(value, 20_000))[1:] == (
            _VarintBytes(min(value, 20_000)) + b"y" * min(value, 20_000)
        )


def test_profile_struct_drops_none_and_turns_ints_into_numbers() -> None:
    struct = encode.profile_struct({"a": None, "b": 2, "c": {"d": None, "e": [1, "x"]}, "f": True})
    assert struct is not None
    assert dict(struct) == {"b": 2.0, "c": struct["c"], "f": True}
    assert dict(struct["c"]) == {"e": struct["c"]["e"]}
    assert list(struct["c"]["e"]) == [1.0, "x"]
    assert encode.profile_struct({"a": None}) is None


def test_resource_types_are_batons_bytes() -> None:
    # Bytes copied from the `user` and `group` rows of baton-sdk's in-progress sample file.
    user = (
        b'\n\x04user\x12\x04User\x1a\x01\x01"?'
        b"\n=type.googleapis.com/c1.connector.v2.SkipEntitlementsAndGrants"
    )
    assert encode.serialize(encode.resource_type_message("user")) == user
    assert encode.serialize(encode.resource_type_message("group")) == b"\n\x05group\x12\x05Group\x1a\x01\x02"


def test_ksuid_shape_and_time() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    ksuid = new_ksuid(moment)
    assert len(ksuid) == 27 and ksuid.isalnum()
    assert ksuid_time(ksuid) == moment
    assert new_ksuid(moment) != ksuid
    assert ksuid_time("36zfOAoWMxQdISbixanQCRBiX7E").date().isoformat() == "2025-12-17"


def test_sync_time_layout() -> None:
    assert format_sync_time(datetime(2025, 12, 17, 16, 31, 25, 58720)) == "2025-12-17 16:31:25.05872"
    assert format_sync_time(datetime(2025, 12, 17, 16, 31, 25)) == "2025-12-17 16:31:25"
    parsed = parse_sync_time("2025-12-17 16:31:25.057185123")
    assert parsed is not None and parsed.replace(tzinfo=None) == datetime(2025, 12, 17, 16, 31, 25, 57185)


def test_wire_checker_rejects_an_undeclared_field() -> None:
    with pytest.raises(WireMismatch, match="undeclared field number 15"):
        canonical(b"\x7a\x01x", pb.ResourceType.DESCRIPTOR)
