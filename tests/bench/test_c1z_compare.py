"""`bench/c1z_compare.py` finds two writes of the same rows identical, and names a changed row."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipelines.c1z.rows import GrantRow, GroupRow, UserRow
from pipelines.c1z.writer import write_c1z
from tests.bench.scripts import load_script

compare = load_script("c1z_compare.py", "bench_c1z_compare")

STARTED = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _write(path: Path, display_name: str) -> Path:
    write_c1z(
        path,
        users=[
            UserRow("u1", display_name, "ENABLED", profile={"site": "Oslo", "n": 3}),
            UserRow("u2", "Bo", "DISABLED"),
        ],
        groups=[GroupRow("g1", "Ops", profile={"targetName": "Ops"})],
        grants=[GrantRow("g1", "user", "u1"), GrantRow("g1", "user", "u2")],
        started_at=STARTED,
        sync_id="3N9VvaowMd146FVJ9bTiPl2pwpz",
    )
    return path


def test_two_writes_of_the_same_rows_are_identical_apart_from_their_times(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = _write(tmp_path / "old.c1z", "Ada"), _write(tmp_path / "new.c1z", "Ada")

    assert compare.main([str(old), str(new)]) == 0
    out = capsys.readouterr().out
    assert "v1_grants: 2 rows" in out and out.rstrip().endswith("identical")
    # the write's own times differ between two writes (discovered_at is taken at each phase)
    assert compare.main([str(old), str(new), "--with-times"]) == 1
    assert "v1_sync_runs rowid 1 ended_at" in capsys.readouterr().out


def test_a_changed_user_is_named_with_its_decoded_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = _write(tmp_path / "old.c1z", "Ada"), _write(tmp_path / "new.c1z", "Adb")

    assert compare.main([str(old), str(new)]) == 1
    lines = capsys.readouterr().out.splitlines()
    data_line = next(line for line in lines if line.startswith("v1_resources rowid "))
    assert " data: " in data_line
    assert 'display_name: "Ada"' in data_line and 'display_name: "Adb"' in data_line
    assert "v1_resources: 1 of 3 rows differ" in lines
    assert lines[-1].startswith("DIFFERENT")
