"""baton-sdk's own files: we read them as `baton` does, and our messages re-encode every row exactly."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf import any_pb2
from google.protobuf.message import Message

from pipelines.c1z.container import decompress_to_file
from pipelines.c1z.proto import pb
from pipelines.c1z.reader import is_expandable, open_c1z
from pipelines.c1z.rows import GrantRow, GroupRow, UserRow
from pipelines.c1z.writer import write_c1z
from tests.c1z.conftest import EXPANDED, IN_PROGRESS, UNEXPANDED
from tests.c1z.wire import canonical, message_class

MESSAGES = {
    "v1_resource_types": pb.ResourceType,
    "v1_resources": pb.Resource,
    "v1_entitlements": pb.Entitlement,
    "v1_grants": pb.Grant,
}


def _database(c1z: Path, tmp_path: Path) -> sqlite3.Connection:
    db = tmp_path / (c1z.name + ".db")
    with db.open("wb") as out:
        decompress_to_file(c1z, out)
    return sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)


def test_unexpanded_sync_counts(samples: Path) -> None:
    with open_c1z(UNEXPANDED) as reader:
        assert reader.sync_id == "36zfOAoWMxQdISbixanQCRBiX7E"
        assert reader.stats() == {
            "resource_types": {"project": 100, "user": 1000, "group": 21, "role": 100},
            "entitlements": 342,
            "grants": 2909,
        }
        grants = list(reader.grants())
    assert sum(is_expandable(g) for g in grants) == 409
    assert sum(g.principal.id.resource_type == "user" for g in grants) == 2500


def test_expanded_sync_counts(samples: Path) -> None:
    with open_c1z(EXPANDED) as reader:
        stats = reader.stats()
        syncs = reader.syncs()
    assert stats["grants"] == 14981
    assert stats["entitlements"] == 342
    assert syncs[0]["ended_at"] is not None


def test_in_progress_sync_is_shown_when_nothing_finished(samples: Path) -> None:
    with open_c1z(IN_PROGRESS) as reader:
        stats = reader.stats()
        (sync,) = reader.syncs()
    assert reader.sync_id == "3ARefY5G8eOytquwYgm41Nq07IZ"
    assert len(stats["resource_types"]) == 5
    assert sum(stats["resource_types"].values()) == 79
    assert (stats["entitlements"], stats["grants"]) == (0, 0)
    assert sync["ended_at"] is None


def _anys(message: Message) -> Iterator[any_pb2.Any]:
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            values = list(value.values()) if field.message_type.fields_by_name["value"].message_type else []
        else:
            values = list(value) if field.is_repeated else [value]
        for item in values:
            if isinstance(item, any_pb2.Any):
                yield item
            elif isinstance(item, Message):
                yield from _anys(item)


@pytest.mark.parametrize("c1z", [UNEXPANDED, EXPANDED, IN_PROGRESS], ids=lambda p: p.name)
def test_every_row_re_encodes_byte_identically(samples: Path, tmp_path: Path, c1z: Path) -> None:
    """Proves our field numbers: each `data` and each Any payload inside decodes and re-encodes to the
    same bytes (up to the order of map entries, which Go randomises; see tests/c1z/wire.py)."""
    conn = _database(c1z, tmp_path)
    rows = payloads = 0
    for table, cls in MESSAGES.items():
        for (data,) in conn.execute(f"select data from {table}"):
            message = cls.FromString(data)
            assert message.SerializeToString(deterministic=True) == data, table
            canonical(data, cls.DESCRIPTOR)  # raises on any field number or wire type we do not declare
            rows += 1
            for packed in _anys(message):
                inner = message_class(packed.type_url).FromString(packed.value)
                assert inner.SerializeToString(deterministic=True) == canonical(
                    packed.value, inner.DESCRIPTOR
                )
                payloads += 1
    assert rows > 0 and (payloads > 0)


def test_group_grant_rows_with_expansion_re_encode_exactly(samples: Path, tmp_path: Path) -> None:
    conn = _database(UNEXPANDED, tmp_path)
    rows = conn.execute("select data from v1_grants where principal_resource_type_id = 'group'").fetchall()
    assert len(rows) == 409
    for (data,) in rows:
        grant = pb.Grant.FromString(data)
        assert grant.SerializeToString(deterministic=True) == data
        (expandable,) = [a for a in grant.annotations if a.Is(pb.GrantExpandable.DESCRIPTOR)]
        unpacked = pb.GrantExpandable()
        expandable.Unpack(unpacked)
        assert unpacked.entitlement_ids and unpacked.SerializeToString(deterministic=True) == expandable.value


def _schema(conn: sqlite3.Connection) -> dict[str, object]:
    tables = [r[0] for r in conn.execute("select name from sqlite_master where type = 'table' order by name")]
    out: dict[str, object] = {}
    for table in tables:
        columns = [
            (r[1], r[2].lower(), r[3], r[4], r[5]) for r in conn.execute(f"pragma table_info({table})")
        ]
        indexes = set()
        for _, name, unique, _, partial in conn.execute(f"pragma index_list({table})"):
            columns_of_index = tuple(r[2] for r in conn.execute(f"pragma index_info({name})"))
            indexes.add((name, bool(unique), columns_of_index, bool(partial)))
        out[table] = (columns, indexes)
    return out


def test_our_schema_matches_baton_sdk(samples: Path, tmp_path: Path) -> None:
    ours = tmp_path / "ours.c1z"
    write_c1z(
        ours,
        users=[UserRow("u1", "U", "ENABLED")],
        groups=[GroupRow("g1", "G")],
        grants=[GrantRow("g1", "user", "u1")],
    )
    assert _schema(_database(ours, tmp_path)) == _schema(_database(IN_PROGRESS, tmp_path))


def test_older_baton_schema_is_a_subset_of_ours(samples: Path, tmp_path: Path) -> None:
    """The 2025 files predate the expansion columns; every column and index they have, we have too."""
    theirs = _schema(_database(UNEXPANDED, tmp_path))
    ours = _schema(_database(IN_PROGRESS, tmp_path))
    assert theirs.keys() == ours.keys()
    for table, (columns, indexes) in theirs.items():
        our_columns, our_indexes = ours[table]
        assert set(columns) <= set(our_columns), table
        assert indexes <= our_indexes, table
