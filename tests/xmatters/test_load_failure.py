"""A raw table DuckDB cannot load is one line naming the table and DuckDB's reason.

dlt's own line was `Job with job_id=people.9b879f7dcc.parquet had 5 retries which is a multiple of
max_retry_count=5. Exiting retry loop. You can still rerun the load package to retry this job.
Last failure message was: Traceback (most recent call last):`, what the CLI printed for a tenant
whose names DuckDB could not insert within the raw step's memory.
"""

from __future__ import annotations

from pathlib import Path

import dlt
import duckdb
import pyarrow as pa
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from pipelines.xmatters.loader import failed_load_job
from pipelines.xmatters.report import ExtractReport


@pytest.mark.parametrize("with_report", [False, True])
def test_a_load_job_duckdb_refuses_names_its_table_and_reason(tmp_path: Path, with_report: bool) -> None:
    """With the extract's report (the raw asset's), the line also names the widest text field and
    its size: 60 KB member names failed the raw load with a line naming only the table."""
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute("SET memory_limit = '2MB'")  # a real load that DuckDB cannot do within its memory

    report = ExtractReport()

    @dlt.resource(name="people")
    def people():
        table = pa.table(
            {"id": [str(i) for i in range(2000)], "name": ["x" * 20_000] * 1999 + ["é" * 10_001]}
        )
        report.note_widest("people", table)
        yield table

    pipeline = dlt.pipeline(
        "load_failure",
        destination=dlt.destinations.duckdb(con),
        dataset_name="xmatters_raw",
        pipelines_dir=str(tmp_path / "dlt"),
    )
    with pytest.raises(PipelineStepFailed) as raised:
        pipeline.run(people(), loader_file_format="parquet")
    failure = failed_load_job(raised.value, report if with_report else None)
    assert failure is not None
    line = str(failure)
    assert line.startswith("loading xmatters_raw.people into DuckDB failed: Out of Memory Error: "), line
    assert line.endswith("; its widest field: name, 20,002 bytes") == with_report, line
    assert "\n" not in line and "Traceback" not in line and "job_id" not in line


def test_other_failures_are_not_load_jobs() -> None:
    assert failed_load_job(RuntimeError("boom")) is None
