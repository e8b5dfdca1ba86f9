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
