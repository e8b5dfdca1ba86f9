"""The scratch database is freed as it is compressed (`compress_database(consume=True)`), and the
`.c1z` bytes are the same as compressing it whole (docs/benchmarks.md, sixteenth round)."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest

from pipelines.c1z import container
from pipelines.c1z import writer as writer_module
from pipelines.c1z.reader import open_c1z
from pipelines.c1z.rows import GrantRow, GroupRow, UserRow
from pipelines.c1z.writer import write_c1z

_CHUNK = 1024 * 1024


def _database(path: Path) -> bytes:
    """A file of several compression chunks, partly incompressible, not a multiple of a block."""
    content = os.urandom(3 * _CHUNK) + b"sqlite page " * (400 * 1024) + b"tail"
    path.write_bytes(content)
    return content


def test_consumed_database_compresses_to_the_same_bytes_and_is_freed(tmp_path: Path) -> None:
    content = _database(tmp_path / "whole.db")
    shutil.copyfile(tmp_path / "whole.db", tmp_path / "consumed.db")
    whole, consumed = io.BytesIO(), io.BytesIO()
    container.compress_database(tmp_path / "whole.db", whole)
    container.compress_database(tmp_path / "consumed.db", consumed, consume=True)
    assert consumed.getvalue() == whole.getvalue()
    decoded = io.BytesIO()
    (tmp_path / "out.c1z").write_bytes(consumed.getvalue())
    assert container.decompress_to_file(tmp_path / "out.c1z", decoded) == len(content)
    assert decoded.getvalue() == content
    # the read parts are holes: the size stays, at most the last partial block keeps its storage
    assert (tmp_path / "whole.db").stat().st_blocks * 512 >= len(content)
    assert (tmp_path / "consumed.db").stat().st_size == len(content)
    assert (tmp_path / "consumed.db").stat().st_blocks * 512 <= 4096


def test_without_hole_punching_the_file_is_read_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file system that refuses FALLOC_FL_PUNCH_HOLE (fallocate returns -1): same bytes, file kept."""
    content = _database(tmp_path / "scratch.db")
    calls: list[tuple[int, int]] = []

    def refusing(fd: int, mode: int, offset: int, length: int) -> int:
        calls.append((offset, length))
        return -1

    monkeypatch.setattr(container, "_fallocate", lambda: refusing)
    expected = io.BytesIO()
    shutil.copyfile(tmp_path / "scratch.db", tmp_path / "copy.db")
    container.compress_database(tmp_path / "copy.db", expected)
    out = io.BytesIO()
    container.compress_database(tmp_path / "scratch.db", out, consume=True)
    assert out.getvalue() == expected.getvalue()
    assert calls == [(0, _CHUNK)]  # refused once, then not asked again
    assert (tmp_path / "scratch.db").read_bytes() == content


def test_writer_compresses_its_scratch_database_consumed_with_unchanged_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer's real scratch database: compressed consumed, it gives the bytes a whole copy gives,
    its storage is freed before it is deleted, and the `.c1z` reads back."""
    seen: dict[str, object] = {}
    real = container.compress_database

    def watching(database: Path, out: io.BufferedWriter, *, consume: bool = False) -> None:
        copy = tmp_path / "copy.db"
        shutil.copyfile(database, copy)
        whole = io.BytesIO()
        real(copy, whole)
        real(database, out, consume=consume)
        seen["consume"] = consume
        seen["blocks_after"] = database.stat().st_blocks
        seen["whole"] = whole.getvalue()
        copy.unlink()

    monkeypatch.setattr(writer_module, "compress_database", watching)
    users = [UserRow(f"u{n}", f"User {n}", "ENABLED") for n in range(300)]
    groups = [GroupRow(f"g{n}", f"Group {n}") for n in range(20)]
    grants = [GrantRow(f"g{n % 20}", "user", f"u{n}") for n in range(300)]
    target = tmp_path / "out" / "sync.c1z"
    result = write_c1z(target, users=users, groups=groups, grants=grants)
    assert target.read_bytes() == seen.pop("whole")
    assert seen == {"consume": True, "blocks_after": 0}
    assert sorted(p.name for p in target.parent.iterdir()) == ["sync.c1z"]
    with open_c1z(target) as sync:
        assert sync.sync_id == result.sync_id and sum(1 for _ in sync.grants()) == 300
