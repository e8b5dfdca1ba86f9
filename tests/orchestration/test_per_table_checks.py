"""The checks of a table share one step, yet each is evaluated and reported as its own check."""

from __future__ import annotations

import threading

import dagster as dg
import pytest

from orchestration.checks.per_table import ALL_CHECKS, evaluate_all, table_checks
from orchestration.checks.table_check import CheckResources, TableCheck
from orchestration.definitions import defs
from orchestration.resources import ExpectationsResource, SyncSettings, WarehouseResource, XmattersResource


def _resources(tmp_path) -> CheckResources:
    return CheckResources(
        warehouse=WarehouseResource(database=str(tmp_path / "wh.duckdb"), dlt_pipelines_dir=str(tmp_path)),
        expectations=ExpectationsResource(),
        sync_settings=SyncSettings(sync_file=str(tmp_path / "sync.c1z")),
        xmatters=XmattersResource(base_url="https://x.invalid/api/xm/1", username="u", password="p"),
    )


def _check(name: str, *, passed: bool = True, error: Exception | None = None, in_worker: bool = False):
    spec = dg.AssetCheckSpec(name=name, asset=dg.AssetKey(["c1_staging", "users"]), blocking=True)
    ran: list[str] = []

    def evaluate(con, resources) -> dg.AssetCheckResult:
        assert con.sql("SELECT 42").fetchall() == [(42,)]  # a cursor of its own, usable on its thread
        ran.append(threading.current_thread().name)
        if error is not None:
            raise error
        return dg.AssetCheckResult(check_name=name, asset_key=spec.asset_key, passed=passed)

    return TableCheck(spec, evaluate, in_worker=in_worker), ran


def test_every_check_reports_before_the_first_error_is_raised(tmp_path):
    boom = RuntimeError("worker died")
    first, first_ran = _check("a", error=boom, in_worker=True)
    second, second_ran = _check("b", passed=False)
    third, third_ran = _check("c", error=ValueError("later"))
    events = evaluate_all([first, second, third], _resources(tmp_path))
    reported = next(events)
    assert (reported.check_name, reported.passed) == ("b", False)
    with pytest.raises(RuntimeError, match="worker died"):
        next(events)
    assert first_ran[0].startswith("worker-check") and second_ran == third_ran == ["MainThread"]


def test_results_come_in_the_checks_order(tmp_path):
    checks = [_check(name, in_worker=name == "b")[0] for name in ("a", "b", "c")]
    assert [r.check_name for r in evaluate_all(checks, _resources(tmp_path))] == ["a", "b", "c"]


def test_one_step_per_staged_table_and_every_check_kept():
    assert len(table_checks) == 4
    specs = {
        (spec.asset_key.to_user_string(), spec.name, spec.blocking)
        for d in table_checks
        for spec in d.check_specs
    }
    assert specs == {(c.spec.asset_key.to_user_string(), c.spec.name, True) for c in ALL_CHECKS}
    assert len(specs) == 13
    graph = defs.resolve_asset_graph()
    assert {k.name for k in graph.asset_check_keys} == {name for _, name, _ in specs}


def test_a_check_launched_alone_runs_alone(tmp_path):
    """The UI's "Execute" on one check: only that check is evaluated, not its table's others."""
    import duckdb

    # A tiny staged warehouse like test_reference_checks.py's fixture, on purpose: this one must
    # be valid for every check of the table, that one breaks rules row by row.
    database = tmp_path / "wh.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("CREATE SCHEMA c1_staging")
        con.execute("CREATE TABLE c1_staging.users AS SELECT 'u1' AS user_id")
        con.execute("CREATE TABLE c1_staging.groups AS SELECT 'g1' AS group_id, 'Ops' AS display_name")
        con.execute("CREATE TABLE c1_staging.entitlements AS SELECT 'group:g1:member' AS entitlement_id")
        con.execute(
            "CREATE TABLE c1_staging.grants AS SELECT 'a' AS grant_id, 'group:g2:member' AS entitlement_id, "
            "'user' AS principal_type, 'u1' AS principal_id"
        )
    resources = _resources(tmp_path)
    key = dg.AssetCheckKey(dg.AssetKey(["c1_staging", "grants"]), "grant_entitlements_exist")
    one = dg.define_asset_job("one_check", selection=dg.AssetSelection.checks(key))
    job = dg.Definitions(
        asset_checks=table_checks,
        jobs=[one],
        resources={
            "warehouse": resources.warehouse,
            "expectations": resources.expectations,
            "sync_settings": resources.sync_settings,
            "xmatters": resources.xmatters,
        },
    ).resolve_job_def("one_check")
    result = job.execute_in_process(raise_on_error=False)
    evaluations = result.get_asset_check_evaluations()
    assert [(e.check_name, e.passed) for e in evaluations] == [("grant_entitlements_exist", False)]
