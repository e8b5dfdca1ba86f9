"""A data home made while the dlt pipeline was named `baton_xmatters` still syncs under `xmatters`.

The pipeline was renamed so that `dlt pipeline xmatters info|trace|show` works as users type it.
dlt keys its local state (`dlt/<pipeline name>`) and the `_dlt_pipeline_state` rows by that name:
under the new name it starts a fresh state directory and finds no state of its own in the
warehouse, which is right for a pipeline that replaces every raw table on each run. The old
directory is left alone (`dlt pipeline --list-pipelines` still lists it; delete it at will).
"""

from __future__ import annotations

import duckdb

import pipelines.xmatters.loader as loader
from orchestration.cli import main
from pipelines.xmatters.settings import PIPELINE_NAME
from tests.orchestration.test_sync_cli import published, sync_args

OLD_NAME = "baton_xmatters"


def test_a_warehouse_of_the_old_pipeline_name_syncs_and_its_raw_tables_are_replaced(
    simulator, org, data_home, tmp_path, monkeypatch
):
    assert PIPELINE_NAME == "xmatters"
    sync_file = tmp_path / "sync.c1z"
    with monkeypatch.context() as old:
        old.setattr(loader, "PIPELINE_NAME", OLD_NAME)
        assert main(sync_args(simulator, sync_file)) == 0
    assert (data_home / "dlt" / OLD_NAME).is_dir() and not (data_home / "dlt" / PIPELINE_NAME).exists()
    # a row the next sync must not keep: the raw tables are replaced, not appended to
    con = duckdb.connect(str(data_home / "warehouse.duckdb"))
    try:
        con.execute(
            "INSERT INTO xmatters_raw.people"
            " SELECT * REPLACE ('stale-person' AS id) FROM xmatters_raw.people LIMIT 1"
        )
    finally:
        con.close()

    assert main(sync_args(simulator, sync_file)) == 0

    assert (data_home / "dlt" / PIPELINE_NAME).is_dir()
    assert published(data_home, "SELECT count(*) FROM xmatters_raw.people")[0][0] == len(org.people)
    assert published(data_home, "SELECT count(*) FROM xmatters_raw.people WHERE id = 'stale-person'") == [
        (0,)
    ]
    assert (
        published(data_home, "SELECT count(*) FROM xmatters_raw.group_members")[0][0] == org.membership_rows()
    )
    assert published(data_home, "SELECT count(*) FROM c1.sync_runs")[0][0] == 2
    names = published(
        data_home, "SELECT DISTINCT pipeline_name FROM xmatters_raw._dlt_pipeline_state ORDER BY 1"
    )
    assert names == [(OLD_NAME,), (PIPELINE_NAME,)]
