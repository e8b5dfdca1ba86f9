"""The raw load's DuckDB memory is sized for the widest row the extract hands it.

DuckDB commits a load a vector (2,048 rows) at a time with all their text pinned: member rows of
60 KB names failed the raw load at the step's 128 MB ("TransactionContext Error: Failed to commit:
failed to pin block of size 256.0 KiB (121.9 MiB/122.0 MiB used)"). A real dlt load into a DuckDB
file by the raw step's pipeline (`raw_pipeline`: the staging replace, a row group per table the
source yields, tables of at most `LOAD_BATCH_BYTES`), of 2,100 rows of 64 KB names.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dlt
import duckdb
import pyarrow as pa

from orchestration.load_memory import LOAD_MEMORY_CAP_BYTES, LoadMemory, load_memory_limit
from pipelines.xmatters.loader import raw_pipeline
from pipelines.xmatters.report import ExtractReport
from pipelines.xmatters.settings import LOAD_BATCH_BYTES

ROWS, WIDTH = 2_100, 64_000  # one vector of them: 131 MB of names, over 128 MB


def test_a_load_of_rows_of_long_names_gets_a_vector_of_them_and_headroom(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    with LoadMemory(con, after="256MB") as memory:
        assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == "122.0 MiB"
        report = ExtractReport(on_wider_rows=memory.fit_rows)

        @dlt.resource(name="group_members", write_disposition="replace")
        def members() -> Iterator[pa.Table]:
            per_table = LOAD_BATCH_BYTES // WIDTH
            for start in range(0, ROWS, per_table):
                numbers = range(start, min(start + per_table, ROWS))
                table = pa.table(
                    {
                        "group_id": [f"g{i // 30}" for i in numbers],
                        "member__target_name": [f"{i:08d}".ljust(WIDTH, "x") for i in numbers],
                    }
                )
                report.note_widest("group_members", table)
                yield table

        pipeline = raw_pipeline(tmp_path / "warehouse.duckdb", pipelines_dir=tmp_path / "dlt")
        pipeline.run(members(), loader_file_format="parquet")  # before: Failed to commit
        assert report.widest_row == WIDTH + len(f"g{(ROWS - 1) // 30}")
        assert memory.limit == load_memory_limit(report.widest_row) > 2_048 * WIDTH
    loaded = con.execute(
        "SELECT count(*), min(strlen(member__target_name)) FROM xmatters_raw.group_members"
    ).fetchone()
    assert loaded == (ROWS, WIDTH)
    assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == "244.1 MiB"  # `after`


def test_ordinary_rows_keep_128_mb_and_the_widest_stop_at_the_cap() -> None:
    assert load_memory_limit(0) == load_memory_limit(2_000) == 128 * 10**6  # every ordinary tenant
    assert load_memory_limit(10**6) == LOAD_MEMORY_CAP_BYTES


def test_the_widest_row_is_its_text_in_every_column_and_is_told_only_when_it_grows() -> None:
    told: list[int] = []
    report = ExtractReport(on_wider_rows=told.append)
    report.note_widest("people", pa.table({"a": ["x" * 10, "y"], "b": ["z", None], "n": [1, 2]}))
    report.note_widest("people", pa.table({"a": ["x" * 5], "b": ["z" * 5]}))  # 10: not wider
    report.note_widest("group_members", pa.table({"a": ["é" * 20]}))
    assert told == [11, 40] and report.widest_row == 40
