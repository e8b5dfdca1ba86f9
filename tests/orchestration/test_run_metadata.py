"""What the UI shows about runs and assets: who started a run, who owns the assets, the columns."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.cli import main
from orchestration.definitions import build_definitions
from orchestration.deployment_variables import DEFAULT_OWNER
from orchestration.run_origin import CODE_LOCATION, REPOSITORY
from orchestration.run_tags import STARTED_BY, c1_task, recorded_sync_file, started_by
from orchestration.run_warehouse import WAREHOUSE
from orchestration.schedules import build_schedule
from pipelines.xmatters.errors import ConfigError
from tests.orchestration.test_sync_cli import sync_args


def _instance(data_home: Path) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(data_home / "dagster"))


def _latest_metadata(instance: dg.DagsterInstance, *path: str) -> dict:
    event = instance.get_latest_materialization_event(dg.AssetKey(list(path)))
    assert event is not None and event.asset_materialization is not None
    return dict(event.asset_materialization.metadata)


def _columns(data_home: Path, schema: str, table: str) -> list[tuple[str, str]]:
    con = duckdb.connect(str(data_home / "warehouse.duckdb"), read_only=True)
    try:
        query = (
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position"
        )
        return [(name, kind) for name, kind in con.execute(query, [schema, table]).fetchall()]
    finally:
        con.close()


def test_a_cli_run_is_tagged_and_its_tables_show_their_columns(simulator, data_home, tmp_path) -> None:
    assert main(sync_args(simulator, tmp_path / "sync.c1z")) == 0
    with _instance(data_home) as instance:
        (run,) = instance.get_runs()
        assert run.tags[STARTED_BY] == "cli"
        # recorded as a run of the code location's job: the UI's Re-execute finds the job by it
        origin = run.remote_job_origin
        assert origin is not None and origin.job_name == "xmatters_sync"
        assert (origin.location_name, origin.repository_origin.repository_name) == (CODE_LOCATION, REPOSITORY)
        assert run.tags["dagster/code_location"] == CODE_LOCATION
        # which warehouse it synced: the run history's retention deletes that warehouse's runs only
        assert run.tags[WAREHOUSE] == str((data_home / "warehouse.duckdb").resolve())
        staged = _latest_metadata(instance, "c1_staging", "grants")["dagster/column_schema"].value
        assert [(c.name, c.type) for c in staged.columns] == _columns(data_home, "c1_staging", "grants")
        published = _latest_metadata(instance, "c1_sync")
        for table in ("users", "groups", "grants"):
            schema = published[f"c1.{table} columns"].value
            assert [(c.name, c.type) for c in schema.columns] == _columns(data_home, "c1", table)


def test_a_run_launched_without_our_tag_is_tagged_ui(simulator, data_home, tmp_path, monkeypatch) -> None:
    """What the UI's buttons and `dagster asset materialize` launch: no tag of ours until the run starts."""
    for name, value in (
        ("BATON_BASE_URL", simulator.base_url),
        ("BATON_USERNAME", simulator.username),
        ("BATON_PASSWORD", simulator.password),
        ("BATON_FILE", str(tmp_path / "sync.c1z")),
    ):
        monkeypatch.setenv(name, value)
    defs = build_definitions()
    with dg.instance_for_test() as instance:
        result = defs.resolve_implicit_global_asset_job_def().execute_in_process(instance=instance)
        assert result.success
        tags = instance.get_run_by_id(result.run_id).tags
        assert tags[STARTED_BY] == "ui"
        assert tags[WAREHOUSE] == str(Path(defs.resources["warehouse"].database).resolve()), tags


def test_the_code_location_is_named_as_the_cli_records_it() -> None:
    root = Path(__file__).resolve().parents[2]
    assert f"location_name: {CODE_LOCATION}\n" in (root / "workspace.yaml").read_text()
    assert f'code_location_name = "{CODE_LOCATION}"\n' in (root / "pyproject.toml").read_text()


def test_a_re_execution_is_the_uis_whatever_its_parent_was() -> None:
    """A re-execution inherits its parent's tags: a CLI run's re-execution read `cli`."""
    for parent in ("cli", "c1", "schedule"):
        assert started_by({STARTED_BY: parent, "dagster/parent_run_id": "0e1f"}) == "ui"
    assert started_by({STARTED_BY: "cli"}) == "cli"


def test_a_c1_tasks_sync_records_its_upload_other_runs_their_path() -> None:
    """A task's temporary .c1z is deleted after the upload: `c1.sync_runs.sync_file` names the upload
    (the service's end-to-end test checks the row); a re-execution of such a run wrote a file to keep."""
    tags = c1_task("2bGlRrLmZkNJ7wS3X0sPdUxm8aC")
    assert recorded_sync_file(tags, "/tmp/t/sync.c1z") == "c1-upload:2bGlRrLmZkNJ7wS3X0sPdUxm8aC"
    assert recorded_sync_file({**tags, "dagster/parent_run_id": "0e1f"}, "/x/sync.c1z") == "/x/sync.c1z"
    assert recorded_sync_file({STARTED_BY: "cli"}, "/x/sync.c1z") == "/x/sync.c1z"


def test_the_schedule_tags_its_runs() -> None:
    schedule = build_schedule()
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(instance=instance)
        (request,) = schedule.evaluate_tick(context).run_requests
    assert request.tags[STARTED_BY] == "schedule"


@pytest.mark.parametrize(
    ("env", "owner"), [(None, DEFAULT_OWNER), ("team:identity-ops", "team:identity-ops")]
)
def test_every_asset_has_an_owner(env: str | None, owner: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if env is not None:
        monkeypatch.setenv("BATON_XMATTERS_OWNER", env)
    specs = [spec for assets in build_definitions().assets for spec in assets.specs]
    assert len(specs) >= 12
    assert {spec.key.to_user_string(): list(spec.owners) for spec in specs} == {
        spec.key.to_user_string(): [owner] for spec in specs
    }


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "BATON_XMATTERS_CRON",
            "every night",
            "BATON_XMATTERS_CRON 'every night' is not a cron expression (5 fields, e.g. '0 3 * * *')",
        ),
        (
            "BATON_XMATTERS_OWNER",
            "nobody",
            "BATON_XMATTERS_OWNER 'nobody' is not an owner (an e-mail address or team:<name>)",
        ),
    ],
)
def test_a_bad_cron_or_owner_variable_is_one_line_naming_it_exit_2(
    simulator, data_home, tmp_path, monkeypatch, capsys, variable: str, value: str, message: str
) -> None:
    """The CLI loads the definitions too: Dagster's own error was a 30-line traceback, exit 1,
    naming neither variable. Nothing is requested and no .c1z is written."""
    monkeypatch.setenv(variable, value)
    sync_file = tmp_path / "sync.c1z"
    assert main(sync_args(simulator, sync_file)) == 2
    assert capsys.readouterr().err == f"baton-xmatters: error: xmatters: {message}\n"
    assert simulator.request_count == 0 and not sync_file.exists()
    with pytest.raises(ConfigError, match=variable):  # the code location (dagster dev) says the same
        build_definitions()
