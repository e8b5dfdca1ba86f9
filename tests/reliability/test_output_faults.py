"""Where the output cannot be written: a full disk, a read-only directory, a path through a file.

Disk full is a real tmpfs of a few pages (mounting needs root or CAP_SYS_ADMIN; elsewhere the test
skips and says so). The read-only directory is a read-only bind mount as root (permission bits do
not stop root) and `chmod 0o500` otherwise.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from orchestration.cli import main
from simulator import XmattersSimulator
from tests.held_warehouse import held_open
from tests.reliability.conftest import (
    RELIABILITY_SPEC,
    Baseline,
    error_line,
    leftovers_beside,
    published_state,
)


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True, check=False).returncode == 0


@contextmanager
def tiny_tmpfs(directory: Path, size_bytes: int) -> Iterator[Path]:
    directory.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs to fill needs root (CAP_SYS_ADMIN)")
    if not _mount("-t", "tmpfs", "-o", f"size={size_bytes},mode=0700", "tmpfs", str(directory)):
        pytest.skip("cannot mount a tmpfs here (no CAP_SYS_ADMIN)")
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)


@contextmanager
def read_only(directory: Path) -> Iterator[Path]:
    if os.geteuid() == 0:
        if not (
            _mount("--bind", str(directory), str(directory))
            and _mount("-o", "remount,ro,bind", str(directory))
        ):
            pytest.skip("cannot make a read-only bind mount here")
        try:
            yield directory
        finally:
            subprocess.run(["umount", "-l", str(directory)], check=False)
    else:
        directory.chmod(0o500)
        try:
            yield directory
        finally:
            directory.chmod(0o700)


@pytest.fixture
def sim(make_simulator: Callable[..., XmattersSimulator]) -> XmattersSimulator:
    return make_simulator(spec=RELIABILITY_SPEC)


def refused_before_any_request(
    code: int, capsys: pytest.CaptureFixture[str], sim: XmattersSimulator, baseline: Baseline
) -> str:
    """Exit 2 before any request, the previous state untouched: returns the one error line."""
    assert code == 2
    line = error_line(capsys.readouterr().err)
    assert sim.request_count == 0
    baseline.assert_unchanged()
    return line


def test_disk_full_while_writing_the_c1z(
    baseline: Baseline, sim: XmattersSimulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Room for the previous file and a little more, not for the new sync's scratch database."""
    room = len(baseline.file_bytes) + 16 * 1024
    with tiny_tmpfs(tmp_path / "full", room) as full:
        target = full / "sync.c1z"
        target.write_bytes(baseline.file_bytes)
        code = main(baseline.args(sim, sync_file=target))
        err = capsys.readouterr().err
        assert code == 1, err
        line = error_line(err)
        assert str(target) in line and "No space left on device" in line, line
        assert "unchanged" in line
        assert target.read_bytes() == baseline.file_bytes
        assert leftovers_beside(target) == []
    assert published_state(baseline.warehouse) == baseline.published


def test_read_only_output_directory(
    baseline: Baseline, sim: XmattersSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    with read_only(baseline.sync_file.parent) as directory:
        code = main(baseline.args(sim))
    line = refused_before_any_request(code, capsys, sim, baseline)
    assert line.endswith(f"-f/--file: cannot write to {directory}")


# Alike in shape to its neighbours (`duplicates` pairs them): one test per refusal, so a failure
# names the case; what they share is in `refused_before_any_request`.
def test_output_path_through_a_file(
    baseline: Baseline, sim: XmattersSimulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_a_dir = tmp_path / "plain-file"
    not_a_dir.write_text("x")
    code = main(baseline.args(sim, sync_file=not_a_dir / "sync.c1z"))
    line = refused_before_any_request(code, capsys, sim, baseline)
    assert line.endswith(f"-f/--file: cannot write to {not_a_dir}")


def test_output_file_that_is_a_directory(
    baseline: Baseline, sim: XmattersSimulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused before any request, and nothing (no `dir.c1z.pending`) left beside it."""
    directory = tmp_path / "out.c1z"
    directory.mkdir()
    code = main(baseline.args(sim, sync_file=directory))
    line = refused_before_any_request(code, capsys, sim, baseline)
    assert f"-f/--file: {directory} is a directory" in line
    assert sorted(p.name for p in tmp_path.iterdir() if "out.c1z" in p.name) == ["out.c1z"]
    assert list(directory.iterdir()) == []


def test_output_path_ending_in_a_slash_is_refused_not_written_as_a_file(
    baseline: Baseline, sim: XmattersSimulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`-f outdir/` (a directory meant, not there yet) wrote the .c1z as a file named `outdir`."""
    code = main([*baseline.args(sim), "-f", f"{tmp_path}/outdir/"])
    line = refused_before_any_request(code, capsys, sim, baseline)
    assert line.endswith(
        f"-f/--file: '{tmp_path}/outdir/' ends in '/', which names a directory; name the .c1z file "
        f"to write, e.g. {tmp_path}/outdir/sync.c1z"
    )
    assert not (tmp_path / "outdir").exists()


def test_warehouse_path_ending_in_a_slash_is_refused_not_written_as_a_file(
    baseline: Baseline, sim: XmattersSimulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--warehouse whdir/` synced into a DuckDB file named `whdir`, with dlt's state beside it."""
    code = main([*baseline.args(sim), "--warehouse", f"{tmp_path}/whdir/"])
    line = refused_before_any_request(code, capsys, sim, baseline)
    assert line.endswith(
        f"--warehouse: '{tmp_path}/whdir/' ends in '/', which names a directory; name the DuckDB file, "
        f"e.g. {tmp_path}/whdir/warehouse.duckdb"
    )
    assert not (tmp_path / "whdir").exists()


@pytest.mark.parametrize("kind", ["text", "c1z"])
def test_warehouse_that_is_not_a_duckdb_database(
    kind: str, baseline: Baseline, sim: XmattersSimulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--warehouse` naming a text file or the `.c1z`: refused, the file untouched, mode included."""
    wrong = tmp_path / f"wrong.{kind}"
    if kind == "text":
        wrong.write_text("notes about the tenant\n" * 50)
    else:
        wrong.write_bytes(baseline.file_bytes)
    wrong.chmod(0o644)
    before = (wrong.read_bytes(), wrong.stat().st_mode, wrong.stat().st_mtime_ns)
    code = main([*baseline.args(sim), "--warehouse", str(wrong)])
    line = refused_before_any_request(code, capsys, sim, baseline)
    assert line.endswith(f"--warehouse: not a DuckDB database: {wrong} (left as it is)")
    assert (wrong.read_bytes(), wrong.stat().st_mode, wrong.stat().st_mtime_ns) == before


def test_warehouse_that_names_the_sync_file_itself(
    baseline: Baseline, sim: XmattersSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--warehouse sync.c1z` with `-f sync.c1z` (the default): the same-path check came first and
    advised `name another file, e.g. <dir>/sync.c1z`, the very path at fault; the cause is that the
    warehouse is not a DuckDB database."""
    before = baseline.sync_file.read_bytes()
    code = main([*baseline.args(sim), "--warehouse", str(baseline.sync_file)])
    line = refused_before_any_request(code, capsys, sim, baseline)
    assert line.endswith(f"--warehouse: not a DuckDB database: {baseline.sync_file} (left as it is)"), line
    assert baseline.sync_file.read_bytes() == before


def test_the_same_new_path_for_both_files_is_never_suggested_back(
    baseline: Baseline, sim: XmattersSimulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`-f x/sync.c1z --warehouse x/sync.c1z`, neither existing yet: the advice names another file."""
    both = tmp_path / "new" / "sync.c1z"
    code = main([*baseline.args(sim, sync_file=both), "--warehouse", str(both)])
    line = refused_before_any_request(code, capsys, sim, baseline)
    assert line.endswith(
        f"-f/--file and --warehouse both name {both}; the .c1z would replace the warehouse: "
        f"name another file, e.g. --warehouse {both.parent}/warehouse.duckdb"
    ), line


def test_warehouse_held_open_by_another_process(
    baseline: Baseline, sim: XmattersSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """An analyst's read-only session on the warehouse: one line naming the holder, before any request."""
    args = baseline.args(sim)  # before the session opens: it records the source in the warehouse
    with held_open(baseline.warehouse) as holder:
        code = main(args)
    assert code == 1
    line = error_line(capsys.readouterr().err)
    assert f"the warehouse {baseline.warehouse} is open in another process (PID {holder.pid}" in line, line
    assert "close that session" in line
    assert sim.request_count == 0
    baseline.assert_unchanged()


def test_output_file_that_is_not_a_regular_file(
    baseline: Baseline, sim: XmattersSimulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`-f /dev/null` as root renamed the .c1z over the device node; a FIFO stands in for it here.
    Refused before any request, the FIFO still a FIFO."""
    fifo = tmp_path / "out.c1z"
    os.mkfifo(fifo)
    code = main(baseline.args(sim, sync_file=fifo))
    line = refused_before_any_request(code, capsys, sim, baseline)
    assert line.endswith(
        f"-f/--file: {fifo} is not a regular file (a named pipe) and would be replaced by the .c1z; "
        f"name the .c1z file to write, e.g. {tmp_path}/sync.c1z"
    )
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir() if "out.c1z" in p.name) == ["out.c1z"]


def test_output_file_that_is_the_warehouse_or_not_a_c1z(
    baseline: Baseline, sim: XmattersSimulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`-f var/warehouse.duckdb` renamed the .c1z over the warehouse: the sync said it succeeded and
    the history was gone. An existing file is replaced only when it is a .c1z (or empty)."""
    warehouse = baseline.warehouse
    args = baseline.args(sim, sync_file=warehouse)
    before = warehouse.read_bytes()
    code = main(args)
    line = refused_before_any_request(code, capsys, sim, baseline)
    assert line.endswith(
        f"-f/--file and --warehouse both name {warehouse}; the .c1z would replace the warehouse: "
        f"name another file, e.g. {warehouse.parent}/sync.c1z"
    )
    assert warehouse.read_bytes() == before
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    code = main(baseline.args(sim, sync_file=notes))
    line = refused_before_any_request(code, capsys, sim, baseline)
    assert line.endswith(
        f"-f/--file: {notes} exists and is not a .c1z file (left as it is); "
        f"name the .c1z file to write, e.g. {tmp_path}/sync.c1z"
    )
    assert notes.read_text() == "my notes\n"
