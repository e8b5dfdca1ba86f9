"""The code location loads without credentials, and its graph is the one the README describes."""

import dagster as dg

from orchestration.definitions import defs
from orchestration.jobs import SYNC_JOB_NAME


def test_definitions_load_without_credentials(monkeypatch):
    for name in ("BATON_BASE_URL", "BATON_USERNAME", "BATON_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    dg.Definitions.validate_loadable(defs)
    assert defs.resolve_job_def(SYNC_JOB_NAME).name == SYNC_JOB_NAME


def test_asset_graph_keys_and_checks():
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert keys == {
        "xmatters_raw/people",
        "xmatters_raw/groups",
        "xmatters_raw/group_members",
        "xmatters_raw/email_devices",
        "c1_staging/user_emails",
        "c1_staging/users",
        "c1_staging/groups",
        "c1_staging/entitlements",
        "c1_staging/memberships",
        "c1_staging/grants",
        "c1_sync",
        "c1_access_changes",
    }
    checks = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    assert ("c1_staging/users", "users_expectations") in checks
    assert ("c1_staging/grants", "grant_principals_exist") in checks
    assert ("c1_staging/grants", "grants_sudden_drop") in checks
    assert ("c1_staging/users", "users_sudden_drop") in checks
    for table in ("users", "groups", "entitlements", "grants"):
        assert (f"c1_staging/{table}", f"{table}_c1_limits") in checks
    assert all(graph.get_check_spec(k).blocking for k in graph.asset_check_keys)


def test_publish_comes_after_every_staged_table():
    graph = defs.resolve_asset_graph()
    upstream = {k.to_user_string() for k in graph.get(dg.AssetKey("c1_sync")).parent_keys}
    assert upstream == {
        "c1_staging/users",
        "c1_staging/groups",
        "c1_staging/entitlements",
        "c1_staging/memberships",
        "c1_staging/grants",
        "c1_staging/user_emails",
    }


def test_schedule_is_daily_and_off_until_turned_on():
    schedule = defs.resolve_schedule_def("xmatters_sync_daily")
    assert schedule.cron_schedule == "0 3 * * *"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED


def test_the_job_selects_every_asset_and_imports_without_a_beta_warning():
    """`AssetSelection.all(include_sources=False)` printed a BetaWarning on every CLI run."""
    import subprocess
    import sys
    from pathlib import Path

    job = defs.resolve_job_def(SYNC_JOB_NAME)
    graph = defs.resolve_asset_graph()
    assert set(job.asset_layer.executable_asset_keys) == set(graph.get_all_asset_keys())
    assert len(job.asset_layer.asset_graph.asset_check_keys) == len(graph.asset_check_keys)
    result = subprocess.run(
        [sys.executable, "-W", "always", "-c", "import orchestration.definitions"],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr, result.stderr
