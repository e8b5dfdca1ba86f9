"""The warehouse file's cached pages are dropped before the `.c1z` write (orchestration/page_cache.py)."""

from __future__ import annotations

import ctypes
import mmap
import os
from pathlib import Path

import pytest

from orchestration.assets import sync_file as sync_file_module
from orchestration.cli import main
from orchestration.page_cache import drop_cached_pages
from tests.orchestration.test_sync_cli import published, sync_args

_LIBC = ctypes.CDLL(None, use_errno=True)


def cached_pages(path: Path) -> int:
    """How many of the file's pages are in the page cache (mincore(2) over a private mapping)."""
    size = path.stat().st_size
    page = mmap.PAGESIZE
    with path.open("rb") as file, mmap.mmap(file.fileno(), size, access=mmap.ACCESS_COPY) as mapped:
        address = ctypes.addressof(ctypes.c_char.from_buffer(mapped))
        vector = (ctypes.c_ubyte * ((size + page - 1) // page))()
        if _LIBC.mincore(ctypes.c_void_p(address), ctypes.c_size_t(size), vector) != 0:
            raise OSError(ctypes.get_errno(), "mincore")
        del address
        return sum(byte & 1 for byte in vector)


def _written(path: Path, size: int) -> Path:
    path.write_bytes(os.urandom(size))
    with path.open("rb+") as file:
        os.fsync(file.fileno())  # clean pages: dropping dirty ones would first write them back
    path.read_bytes()
    return path


def test_drop_cached_pages_empties_the_cache_of_the_file_and_keeps_its_bytes(tmp_path: Path) -> None:
    target = _written(tmp_path / "warehouse.duckdb", 4 * 1024 * 1024)
    other = _written(tmp_path / "other.bin", 1024 * 1024)
    content = target.read_bytes()
    if cached_pages(target) == 0:
        pytest.skip("this file system keeps no page cache for the file")
    drop_cached_pages(target, tmp_path / "missing.wal")  # a missing file is skipped
    assert cached_pages(target) == 0
    assert cached_pages(other) > 0  # only the named files
    assert target.read_bytes() == content


def test_sync_drops_the_warehouse_pages_before_the_write(
    simulator, data_home, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sync_file = tmp_path / "out" / "sync.c1z"
    calls: list[tuple[list[Path], bool]] = []

    def recording(*paths: Path) -> None:
        pending = sync_file.with_name(sync_file.name + ".pending")
        calls.append((list(paths), pending.exists() or sync_file.exists()))
        drop_cached_pages(*paths)

    monkeypatch.setattr(sync_file_module, "drop_cached_pages", recording)
    assert main(sync_args(simulator, sync_file)) == 0
    warehouse = data_home / "warehouse.duckdb"
    assert calls == [([warehouse, data_home / "warehouse.duckdb.wal"], False)]
    assert published(data_home, "SELECT count(*) FROM c1.sync_runs")[0][0] == 1
    assert sync_file.is_file()
