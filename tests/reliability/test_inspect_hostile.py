"""`baton-xmatters inspect` on hostile files, as a separate process: one-line error, bounded memory.

The reader's own hostile-input tests (tests/c1z/test_reader_errors.py) cover the error texts and
the lowered-limit bombs; these rows add the CLI: exit code, the single `baton-xmatters: error:`
line, no traceback, and the peak RSS of the process (its own VmHWM, see `_MEASURED_CLI`).
"""

from __future__ import annotations

import hashlib
import sqlite3
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard

from pipelines.c1z.container import decompress_to_file
from pipelines.c1z.rows import GrantRow, GroupRow, UserRow
from pipelines.c1z.writer import write_c1z
from tests.reliability.conftest import error_line, subprocess_env

MAX_RSS_BYTES = 100 * 1024 * 1024  # inspect peaks at ~22 MB on these files; a bomb would need GiBs
SQL_ID = "u'); DROP TABLE v1_grants; --"


def _container(path: Path, content: bytes) -> Path:
    compressor = zstandard.ZstdCompressor(level=1, write_content_size=True)
    path.write_bytes(b"C1ZF\x00" + compressor.compress(content))
    return path


def bad_magic(d: Path) -> Path:
    (d / "x.c1z").write_bytes(b"PK\x03\x04 this is a zip file")
    return d / "x.c1z"


def declared_bomb(d: Path) -> Path:
    """A frame header that declares 64 GiB of content (1 MiB window), then one RLE block."""
    header = b"\x28\xb5\x2f\xfd" + bytes([0xC0, 0x50]) + struct.pack("<Q", 64 * 2**30)
    rle_block = (1 | (1 << 1) | (128 * 1024 << 3)).to_bytes(3, "little") + b"\x00"
    (d / "bomb.c1z").write_bytes(b"C1ZF\x00" + header + rle_block)
    return d / "bomb.c1z"


def corrupt_sqlite(d: Path) -> Path:
    return _container(d / "x.c1z", (b"SQLite format 3\x00" + b"\xff" * 4080) * 4)


def _good(d: Path, name: str = "good.c1z") -> Path:
    path = d / name
    write_c1z(
        path,
        users=[UserRow("u1", "Ann", "ENABLED"), UserRow(SQL_ID, "Bobby Tables", "ENABLED")],
        groups=[GroupRow("g1", "Ops")],
        grants=[GrantRow("g1", "user", "u1"), GrantRow("g1", "user", SQL_ID)],
    )
    return path


def garbage_protobuf(d: Path) -> Path:
    db = d / "db"
    with db.open("wb") as out:
        decompress_to_file(_good(d), out)
    conn = sqlite3.connect(db)
    conn.execute("update v1_resources set data = x'0aff' where external_id = 'user:u1'")
    conn.commit()
    conn.close()
    return _container(d / "bad.c1z", db.read_bytes())


def _edited(d: Path, *statements: str) -> Path:
    """The good file with `statements` run on its database, recompressed."""
    db = d / "db"
    with db.open("wb") as out:
        decompress_to_file(_good(d), out)
    conn = sqlite3.connect(db)
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()
    return _container(d / "crafted.c1z", db.read_bytes())


def generated_grants_data(d: Path) -> Path:
    """`v1_grants.data` as a virtual generated column: every read would build a 900 MB blob."""
    columns = (
        "resource_type_id, resource_id, entitlement_id, principal_resource_type_id, "
        "principal_resource_id, external_id, expansion, needs_expansion, sync_id, discovered_at"
    )
    return _edited(
        d,
        "alter table v1_grants rename to v1_grants_old",
        "create table v1_grants (id integer primary key, resource_type_id text not null, resource_id text "
        "not null, entitlement_id text not null, principal_resource_type_id text not null, "
        "principal_resource_id text not null, external_id text not null, expansion blob, needs_expansion "
        "integer not null default 0, data blob generated always as (zeroblob(900000000)) virtual, sync_id "
        "text not null, discovered_at datetime not null)",
        f"insert into v1_grants (id, {columns}) select id, {columns} from v1_grants_old",
        "drop table v1_grants_old",
    )


def with_trigger(d: Path) -> Path:
    return _edited(d, "create trigger t after insert on v1_grants begin select 1; end")


def with_view(d: Path) -> Path:
    return _edited(d, "create view v1_everything as select * from v1_grants, v1_resources")


HOSTILE: dict[str, tuple[Callable[[Path], Path], str, str]] = {
    "generated data column": (
        generated_grants_data,
        "grants",
        "v1_grants.data is a generated or hidden column",
    ),
    "a trigger": (with_trigger, "stats", "it holds a trigger, 't'"),
    "a view": (with_view, "grants", "it holds a view, 'v1_everything'"),
    "bad magic": (bad_magic, "stats", "not a c1z file (bad magic"),
    "decompression bomb (64 GiB declared)": (declared_bomb, "stats", "exceeds the"),
    "corrupt SQLite": (corrupt_sqlite, "stats", "corrupt SQLite database"),
    "garbage protobuf": (garbage_protobuf, "resources", "undecodable Resource in v1_resources"),
}


# The child reports its own peak RSS (VmHWM of its memory map) when it exits, less the pages of
# mapped files it still holds (RssFile: its shared libraries, pyarrow's ~60 MB among them). Those
# count in VmHWM by how the kernel caches the files, not by what `inspect` reads: the same run read
# 68 MB from a long-used venv and 102 MB from a freshly installed one (larger page-cache folios).
# Not getrusage / os.wait4: on Linux a child's ru_maxrss starts at the RSS of the forking parent,
# here a pytest process that has run whole syncs in-process, so it would measure the parent.
_MEASURED_CLI = """
import atexit, sys
from pathlib import Path

def _report_peak() -> None:
    status = Path("/proc/self/status").read_text().splitlines()
    fields = [line.split() for line in status if line.startswith(("VmHWM:", "RssFile:"))]
    kib = {name: int(value) for name, value, *_unit in fields}
    Path(report).write_text(str(kib["VmHWM:"] - kib["RssFile:"]))

atexit.register(_report_peak)
report, sys.argv = sys.argv[1], ["baton-xmatters", *sys.argv[2:]]
from orchestration.cli import main
raise SystemExit(main(sys.argv[1:]))
"""


def run_inspect(tmp_path: Path, *args: str) -> tuple[int, str, str, int]:
    """(exit code, stdout, stderr, peak RSS in bytes less mapped files) of `baton-xmatters inspect ...`
    in a child."""
    if not Path("/proc/self/status").is_file():
        pytest.skip("peak RSS is read from /proc (Linux)")
    peak_file = tmp_path / "peak-kib"
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURED_CLI, str(peak_file), "inspect", *args],
        env=subprocess_env(tmp_path / "home"),
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr, int(peak_file.read_text()) * 1024


@pytest.mark.parametrize("name", list(HOSTILE))
def test_inspect_hostile_file(name: str, tmp_path: Path) -> None:
    make, command, expected = HOSTILE[name]
    path = make(tmp_path)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    code, out, err, peak = run_inspect(tmp_path, "-f", str(path), command)
    assert code == 1 and out == "", err
    assert expected in error_line(err)
    assert peak < MAX_RSS_BYTES
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_inspect_sql_looking_ids_are_data(tmp_path: Path) -> None:
    """Ids that look like SQL are printed as text; nothing in the file is run, the file is untouched."""
    path = _good(tmp_path)
    before = path.read_bytes()
    code, out, err, peak = run_inspect(tmp_path, "-f", str(path), "grants", "-o", "json")
    assert code == 0, err
    assert f"group:g1:member:user:{SQL_ID}" in out
    code, out, err, _ = run_inspect(tmp_path, "-f", str(path), "stats", "-o", "json")
    assert code == 0 and '"grants": 2' in out
    assert peak < MAX_RSS_BYTES
    assert path.read_bytes() == before


def huge_names(d: Path) -> Path:
    """A user and a group whose display names are 50 MB of Cyrillic led by terminal escapes."""
    name = "\x1b]0;pwned\x07\x1b[2J" + "Ж" * 25_000_000
    path = d / "huge.c1z"
    write_c1z(
        path,
        users=[UserRow("u1", name, "ENABLED"), UserRow("u2", "Bob", "ENABLED")],
        groups=[GroupRow("g1", "Ops" + name)],
        grants=[GrantRow("g1", "user", "u1"), GrantRow("g1", "user", "u2")],
    )
    return path


@pytest.mark.parametrize("command", ["resources", "entitlements", "grants"])
def test_inspect_huge_names_in_bounded_memory_and_escaped(command: str, tmp_path: Path) -> None:
    """Console cells are cut and their control characters escaped; a 50 MB name is never held whole."""
    path = huge_names(tmp_path)
    code, out, err, peak = run_inspect(tmp_path, "-f", str(path), command)
    assert code == 0, err
    assert peak < 200 * 1024 * 1024, f"peak RSS {peak / 2**20:.0f} MiB"
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b]0;pwned\\x07\\x1b[2J" in out  # shown, escaped
    assert max(len(line) for line in out.splitlines()) < 1000
    if command != "entitlements":
        assert "Bob" in out
