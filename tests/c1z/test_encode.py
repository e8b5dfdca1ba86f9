"""The byte-level grant fast path equals protobuf's deterministic serialization; ids and times."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from pipelines.c1z import encode
from pipelines.c1z.ids import entitlement_id, grant_id
from pipelines.c1z.proto import pb
from pipelines.c1z.rows import EntitlementRow, GroupRow, UserRow
from pipelines.c1z.sync_ids import format_sync_time, ksuid_time, new_ksuid, parse_sync_time
from tests.c1z import messages
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
    group = messages.group_resource(
        GroupRow(group_id, "Ops ☎", description="d" * 200, profile={"targetName": "Ops", "n": 3, "x": None})
    )
    the_id = grant_id(group_id, principal_type, principal_id)
    fast = encode.grant_bytes(
        encode.grant_entitlement_field(encode.serialize(group), f"group:{group_id}:member"),
        encode.grant_principal_field(principal_type, principal_id),
        the_id,
    )
    assert fast == encode.serialize(messages.grant_message(group, the_id, principal_type, principal_id))


@pytest.mark.parametrize("name_bytes", [10, 200, 20_000, 3_000_000])  # one-, two-, three-byte lengths
def test_a_grants_entitlement_field_is_its_entitlements_head(name_bytes: int) -> None:
    """The writer cuts each grant's field 1 from its stored entitlement (`entitlement_head_size`)."""
    group = GroupRow("g1", "n" * name_bytes, profile={"targetName": "n" * name_bytes})
    resource = encode.group_resource_bytes(group)
    ent_id = entitlement_id("g1")
    entitlement = encode.entitlement_bytes(EntitlementRow("g1", "member", "of"), resource, [])
    head = entitlement[: encode.entitlement_head_size(len(resource), ent_id)]
    assert encode.length_delimited(1, head) == encode.grant_entitlement_field(resource, ent_id)
    assert entitlement[len(head) : len(head) + 1] == b"\x1a"  # the display name follows


def test_varint_matches_protobuf() -> None:
    from google.protobuf.internal.encoder import _VarintBytes

    for value in (0, 1, 127, 128, 300, 16_383, 16_384, 2**31):
        assert encode.varint(value) == _VarintBytes(value)
        assert encode.length_delimited(3, b"y" * min(value, 20_000))[1:] == (
            _VarintBytes(min(value, 20_000)) + b"y" * min(value, 20_000)
        )


def test_profile_struct_drops_none_and_turns_ints_into_numbers() -> None:
    struct = messages.profile_struct({"a": None, "b": 2, "c": {"d": None, "e": [1, "x"]}, "f": True})
    assert struct is not None
    assert dict(struct) == {"b": 2.0, "c": struct["c"], "f": True}
    assert dict(struct["c"]) == {"e": struct["c"]["e"]}
    assert list(struct["c"]["e"]) == [1.0, "x"]
    assert messages.profile_struct({"a": None}) is None


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


# --- the hand-written user encoder equals the library --------------------------------------------

_PROFILE_VALUES: list[object] = [
    "",
    "x",
    "Zoë ☎ 用户 🚨",
    "y" * 200,
    True,
    False,
    0,
    3,
    -1.5,
    2**60,
    1e300,
    None,
]


def _random_value(rng: random.Random, depth: int) -> object:
    kind = rng.random()
    if depth < 3 and kind < 0.15:
        return _random_profile(rng, depth + 1)
    if depth < 3 and kind < 0.3:
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if depth < 3 and kind < 0.35:
        return tuple(_random_value(rng, depth + 1) for _ in range(rng.randint(0, 3)))
    return rng.choice(_PROFILE_VALUES)


def _random_profile(rng: random.Random, depth: int = 0) -> dict[object, object]:
    # Keys that are prefixes of each other ("a", "ab"), empty, non-ASCII and non-str keys exercise the
    # map entry order; None values must vanish at every depth.
    keys: list[object] = ["a", "ab", "abc", "b", "", "é", "Z", "targetName", "props", 7]
    return {rng.choice(keys): _random_value(rng, depth) for _ in range(rng.randint(0, 7))}


def _random_user(rng: random.Random, number: int) -> UserRow:
    def maybe(value: object) -> Any:
        return value if rng.random() < 0.5 else None

    moments = [
        datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(1960, 6, 1, 0, 0, 0, 999_999, tzinfo=UTC),  # negative seconds: ten-byte varint
        datetime(1970, 1, 1, tzinfo=UTC),  # the epoch: an empty Timestamp that is still present
        datetime(2024, 2, 29, 23, 59, 59, 1, tzinfo=timezone(timedelta(hours=-7))),
        datetime(2001, 1, 1, 12, 0),  # naive: taken as UTC
    ]
    return UserRow(
        user_id=rng.choice([f"user-{number}", "", "用户-ü", "u" * 300]),
        display_name=rng.choice(["Person", "", "李 雷", "Zoë Ångström"]),
        status=rng.choice(["ENABLED", "DISABLED", "UNSPECIFIED"]),
        status_details=maybe(rng.choice(["", "not visible to the connector account", "d" * 150])),
        login=maybe(rng.choice(["", "zoe", "ü" * 70])),
        given_name=maybe(rng.choice(["", "Zoë"])),
        family_name=maybe(rng.choice(["", "Ångström"])),
        profile=maybe(_random_profile(rng)),
        emails=tuple(
            (rng.choice(["", "a@example.com"]), rng.random() < 0.5) for _ in range(rng.randint(0, 2))
        ),
        created_at=maybe(rng.choice(moments)),
        last_login=maybe(rng.choice(moments)),
        login_aliases=tuple(rng.choice(["", "zoe.a", "ü" * 70]) for _ in range(rng.randint(0, 2))),
        employee_ids=tuple(rng.choice(["EMP-1", "", "e" * 200]) for _ in range(rng.randint(0, 2))),
    )


@pytest.mark.parametrize("layout_cache", [True, False])
def test_user_fast_path_equals_library_encoding_over_random_users(
    layout_cache: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not layout_cache:  # a full cache: every Struct takes the uncached path
        monkeypatch.setattr(encode, "_STRUCT_LAYOUTS", {})
        monkeypatch.setattr(encode, "_STRUCT_LAYOUTS_MAX", 0)
    rng = random.Random(20260301)
    for number in range(3000):
        user = _random_user(rng, number)
        assert encode.user_resource_bytes(user) == encode.serialize(messages.user_resource(user)), user


@pytest.mark.parametrize(
    "profile",
    [
        None,
        {},
        {"a": None},
        {"a": None, "b": {"c": None}},  # a nested dict that empties is still written (as {})
        {"targetName": "zoe", "visibleToConnector": True, "properties": {"Team": "ops", "Team Name": "x"}},
        {"list": [None, 1, "x", [], {}, {"k": None}, (True, False)]},
        {"": "", "ab": 0.0, "a": -0.0, "é": "ü", "e": 1},
        {1: "int key", "1": "str key wins (later)"},
    ],
)
def test_profile_bytes_equal_the_library(profile: dict[Any, Any] | None) -> None:
    struct = messages.profile_struct(profile)
    expected = None if struct is None else encode.serialize(struct)
    assert encode.profile_bytes(profile) == expected


def test_profile_with_an_unsupported_value_fails_like_the_library() -> None:
    profile = {"when": datetime(2020, 1, 1)}
    with pytest.raises(ValueError):
        messages.profile_struct(profile)
    with pytest.raises(ValueError):
        encode.profile_bytes(profile)


def test_user_principal_field_equals_the_generic_one() -> None:
    for user_id in ("b1e0c5a4-1111-4222-8333-944455556666", "用户-1", "u" * 300):
        assert encode.user_principal_field(user_id) == encode.grant_principal_field("user", user_id)


def _random_group(rng: random.Random, number: int) -> GroupRow:
    return GroupRow(
        group_id=rng.choice([f"group-{number}", "", "グループ-ü", "g" * 300]),
        display_name=rng.choice(["Ops", "", "Ops 🚨 on-call", "n" * 200]),
        description=rng.choice([None, "", "pager", "d" * 150]),
        profile=rng.choice([None, {}, {"a": None}, _random_profile(rng)]),
    )


@pytest.mark.parametrize("layout_cache", [True, False])
def test_group_and_entitlement_fast_paths_equal_library_encoding(
    layout_cache: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not layout_cache:
        monkeypatch.setattr(encode, "_STRUCT_LAYOUTS", {})
        monkeypatch.setattr(encode, "_STRUCT_LAYOUTS_MAX", 0)
    rng = random.Random(20260302)
    resource_types = [encode.resource_type_message(t) for t in ("user", "group")]
    for number in range(2000):
        group = _random_group(rng, number)
        library = messages.group_resource(group)
        fast = encode.group_resource_bytes(group)
        assert fast == encode.serialize(library), group
        row = EntitlementRow(
            group_id=group.group_id,
            display_name=rng.choice(["", "Ops Group Member", "成员 " * 50]),
            description=rng.choice([None, "", "who is paged"]),
        )
        grantable = rng.choice([[], resource_types[:1], resource_types])
        expected = encode.serialize(messages.entitlement_message(row, library, grantable))
        assert encode.entitlement_bytes(row, fast, [encode.serialize(t) for t in grantable]) == expected


def _epoch_micros(moment: datetime) -> int:
    delta = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


_MOMENTS = [
    datetime(1, 1, 1),  # the first second a Timestamp may hold
    datetime(9999, 12, 31, 23, 59, 59, 999_999),  # the last
    datetime(1969, 12, 31, 23, 59, 59, 999_999),  # -1 us: seconds floor to -1, nanos stay positive
    datetime(1970, 1, 1),
    datetime(1970, 1, 1, 0, 0, 0, 1),
    datetime(1978, 7, 4, 21, 24, 15, 268_435),  # 2**28 - 1 s: the last four-byte seconds, nanos
    datetime(1978, 7, 4, 21, 24, 16, 268_436),  # 2**28 s: the first five-byte ones
    datetime(3058, 10, 26, 3, 46, 7),  # 2**35 - 1 s: the last five-byte seconds
    datetime(3058, 10, 26, 3, 46, 8),  # 2**35 s: six bytes
    datetime(2020, 3, 16, 13, 15, 54, 152_000),
]


@pytest.mark.parametrize("moment", _MOMENTS)
def test_timestamp_bytes_of_a_datetime_and_of_its_epoch_microseconds_equal_the_library(
    moment: datetime,
) -> None:
    expected = encode.serialize(encode.timestamp(moment))
    assert encode.timestamp_bytes(moment) == expected
    assert encode.timestamp_bytes(moment.replace(tzinfo=UTC)) == expected
    assert encode.timestamp_bytes(_epoch_micros(moment)) == expected


def test_epoch_microseconds_are_what_the_warehouse_reads_a_timestamp_as() -> None:
    import duckdb

    with duckdb.connect() as con:
        for moment in _MOMENTS:
            assert con.execute("SELECT epoch_us(?::TIMESTAMP)", [moment]).fetchone() == (
                _epoch_micros(moment),
            )


@pytest.mark.parametrize("micros", [_epoch_micros(datetime(1, 1, 1)) - 1, 253_402_300_800_000_000])
def test_epoch_microseconds_outside_a_timestamps_range_are_refused(micros: int) -> None:
    with pytest.raises(ValueError, match="outside 0001-01-01..9999-12-31"):
        encode.timestamp_bytes(micros)


def test_users_with_epoch_microseconds_encode_as_with_datetimes() -> None:
    rng = random.Random(20260303)
    for number in range(1000):
        user = _random_user(rng, number)
        as_micros = user._replace(
            created_at=None if user.created_at is None else _epoch_micros(user.created_at),
            last_login=None if user.last_login is None else _epoch_micros(user.last_login),
            login_aliases=list(user.login_aliases),
            employee_ids=list(user.employee_ids),
        )
        assert encode.user_resource_bytes(as_micros) == encode.user_resource_bytes(user), user
