"""Hostile or wrong input: one-line `C1ZFormatError`s, bounded memory, temporary copies removed."""

from __future__ import annotations

import os
import sqlite3
import tempfile
from pathlib import Path

import pytest
import zstandard

from pipelines.c1z.errors import C1ZFormatError
from pipelines.c1z.reader import open_c1z
from pipelines.c1z.rows import GrantRow, GroupRow, UserRow
from pipelines.c1z.writer import write_c1z


def _c1z(path: Path, content: bytes, **params: int) -> Path:
    compressor = zstandard.ZstdCompressor(
        compression_params=zstandard.ZstdCompressionParameters.from_level(
            1, write_content_size=True, **params
        )
    )
    path.write_bytes(b"C1ZF\x00" + compressor.compress(content))
    return path


def _leftover_copies() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("c1z-read-*")}


def _error(path: Path, **kwargs: int) -> str:
    before = _leftover_copies()
    with pytest.raises(C1ZFormatError) as caught:
        open_c1z(path, **kwargs)
    assert _leftover_copies() <= before
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_not_a_c1z(tmp_path: Path) -> None:
    path = tmp_path / "x.c1z"
    path.write_bytes(b"PK\x03\x04 a zip file")
    assert "not a c1z file (bad magic" in _error(path)


def test_v3_container_is_not_supported_yet(tmp_path: Path) -> None:
    path = tmp_path / "x.c1z"
    path.write_bytes(b"C1Z3\x00" + b"\x00" * 64)
    assert "v3 c1z container (C1Z3) is not supported yet" in _error(path)


def test_window_over_128_mib_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.c1z"
    compressor = zstandard.ZstdCompressor(
        compression_params=zstandard.ZstdCompressionParameters(window_log=28, enable_ldm=True)
    )
    # A hand-made frame header announcing a 256 MiB window (window descriptor byte 0x90 = 2^28 bytes).
    frame = bytearray(compressor.compress(b"x" * 1000))
    assert zstandard.get_frame_parameters(bytes(frame)).window_size <= 2**28
    header = b"\x28\xb5\x2f\xfd\x00\x90" + bytes(frame[6:])
    path.write_bytes(b"C1ZF\x00" + header)
    assert "exceeds the 134217728 limit" in _error(path)


def test_decompression_bomb_is_capped(tmp_path: Path) -> None:
    bomb = _c1z(tmp_path / "declared.c1z", b"\x00" * (8 * 1024 * 1024))
    assert "declared decoded size 8388608 exceeds the 1048576 limit" in _error(bomb, max_decoded_bytes=2**20)
    undeclared = tmp_path / "streamed.c1z"
    compressor = zstandard.ZstdCompressor(level=1, write_content_size=False)
    undeclared.write_bytes(b"C1ZF\x00" + compressor.compress(b"\x00" * (8 * 1024 * 1024)))
    assert "decompression bomb" in _error(undeclared, max_decoded_bytes=2**20)


def test_corrupt_zstd(tmp_path: Path) -> None:
    path = tmp_path / "x.c1z"
    path.write_bytes(b"C1ZF\x00" + b"\x28\xb5\x2f\xfd" + b"\xff" * 40)
    assert "corrupt zstd" in _error(path)


def test_content_that_is_not_sqlite(tmp_path: Path) -> None:
    assert "is not a SQLite database" in _error(_c1z(tmp_path / "x.c1z", b"hello world" * 100))


def test_corrupt_sqlite(tmp_path: Path) -> None:
    page = b"SQLite format 3\x00" + b"\xff" * 4080
    assert "corrupt SQLite database" in _error(_c1z(tmp_path / "x.c1z", page * 4))


def test_sqlite_without_c1z_tables(tmp_path: Path) -> None:
    db = tmp_path / "plain.db"
    conn = sqlite3.connect(db)
    conn.execute("create table t (x)")
    conn.commit()
    conn.close()
    assert "missing tables v1_resource_types" in _error(_c1z(tmp_path / "x.c1z", db.read_bytes()))


def test_undecodable_protobuf(tmp_path: Path) -> None:
    good = tmp_path / "good.c1z"
    write_c1z(good, users=[UserRow("u1", "U", "ENABLED")], groups=[GroupRow("g1", "G")], grants=[])
    db = tmp_path / "db"
    from pipelines.c1z.container import decompress_to_file

    with db.open("wb") as out:
        decompress_to_file(good, out)
    conn = sqlite3.connect(db)
    conn.execute("update v1_resources set data = x'0aff' where external_id = 'user:u1'")
    conn.commit()
    conn.close()
    bad = _c1z(tmp_path / "bad.c1z", db.read_bytes())
    expected = "undecodable Resource in v1_resources row 1"
    with open_c1z(bad) as reader, pytest.raises(C1ZFormatError, match=expected):
        list(reader.resources())


# The tiny sync of test_golden_files.py's schema test in shape (`duplicates` pairs them); here the
# ids are the point of the test, so it is written out.
def test_ids_are_data_not_sql(tmp_path: Path) -> None:
    path = tmp_path / "x.c1z"
    write_c1z(
        path,
        users=[UserRow("u'); drop table v1_grants; --", "Bobby", "ENABLED")],
        groups=[GroupRow("g1", "G")],
        grants=[GrantRow("g1", "user", "u'); drop table v1_grants; --")],
    )
    with open_c1z(path) as reader:
        assert reader.stats()["grants"] == 1
        assert [r.id.resource for r in reader.resources("user' or '1'='1")] == []
    assert "no sync with id" in _error(path, sync_id="x' or '1'='1")  # type: ignore[arg-type]


def test_missing_file(tmp_path: Path) -> None:
    assert "no such file" in _error(tmp_path / "absent.c1z")


def test_a_directory_is_named_as_one(tmp_path: Path) -> None:
    assert _error(tmp_path) == f"{tmp_path}: is a directory, not a .c1z file"
    fifo = tmp_path / "pipe.c1z"
    os.mkfifo(fifo)
    assert _error(fifo) == f"{fifo}: not a regular file"
