"""What the Dagster UI shows after a sync that failed on credentials (issue #16, item 9).

Dagster 1.13's open-source UI cannot mark the assets downstream of a failed step as "skipped": the
Catalog derives an asset's status from the latest run that *planned* it (`assetsLatestInfo.latestRun`,
set by the ASSET_MATERIALIZATION_PLANNED event every asset of the run gets at launch), so every asset
of a failed run reads "Failed" (see docs/design.md, "What the UI shows for a failed run"). The page
that does tell the failures apart is the run page: the raw step is the one errored step, with the
HTTP status as its cause, and every step after it is "Not executed". This test pins that, and that
the run stays FAILED (the run-failure alert sensor relies on it) and no `.c1z` is written.

Once the cause is gone, the run page's Re-execute runs a failed CLI run again in the code location,
with the UI's credentials: it answered with a `CheckError` dialog (`execute_in_process` recorded no
origin for the UI to find the job by; orchestration/run_origin.py).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster._core.utils import make_new_run_id
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from orchestration.run_tags import STARTED_BY
from orchestration.run_warehouse import WAREHOUSE
from simulator import XmattersSimulator
from tests.conftest import cached_org
from tests.ui.conftest import UI_ORG_SPEC
from tests.ui.test_dagster_ui import _dismiss_community_dialog, _file_state, _run_ids
from tests.ui.webserver import LOCATION, REPO_ROOT, DagsterUi

ARTIFACTS = REPO_ROOT / "test-artifacts" / "ui"
PAGE_TIMEOUT_S = 60.0
RUN_TIMEOUT_S = 300.0

RUNS_QUERY = """
query { runsOrError { ... on Runs { results { runId status stepStats { stepKey status } } } } }
"""
# What the run page's Re-execute menu sends (Dagster's ui-core useJobReExecution.tsx)
REEXECUTE_MUTATION = """
mutation Reexecute($params: ReexecutionParams) {
  launchPipelineReexecution(reexecutionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on Error { message }
  }
}
"""
RUN_QUERY = """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    ... on Run { status runConfigYaml tags { key value } repositoryOrigin { repositoryLocationName } }
  }
}
"""
LATEST_MATERIALIZATION_QUERY = """
query {
  assetNodeOrError(assetKey: {path: ["c1_sync"]}) {
    ... on AssetNode { assetMaterializations(limit: 1) { runId } }
  }
}
"""
STEP_FAILURES_QUERY = """
query Logs($runId: ID!) {
  logsForRun(runId: $runId) {
    ... on EventConnection {
      events {
        __typename
        ... on ExecutionStepFailureEvent { stepKey error { message errorChain { error { message } } } }
      }
    }
  }
}
"""


def test_a_credentials_failure_is_the_raw_step_the_rest_not_executed(
    browser: webdriver.Chrome, dagster_ui: DagsterUi, simulator: XmattersSimulator
) -> None:
    known = _run_ids(dagster_ui)  # the module's earlier tests' runs (one webserver per module)
    published = _file_state(dagster_ui.sync_file)  # their sync file, if any
    cli = _sync_with_wrong_password(dagster_ui, simulator)
    assert cli.returncode != 0
    assert "baton-xmatters: error:" in cli.stderr and "HTTP 401" in cli.stderr, cli.stderr
    assert _file_state(dagster_ui.sync_file) == published  # none written, or the earlier one as it was

    runs = _new_runs(dagster_ui, known)
    assert len(runs) == 1, runs
    run = runs[0]
    # Still a failed run: orchestration/sensors.py alerts on it.
    assert run["status"] == "FAILURE"
    # Only the raw step ran, and it is the one that failed; nothing downstream started or failed.
    assert run["stepStats"] == [{"stepKey": "xmatters_raw", "status": "FAILURE"}], run["stepStats"]
    failures = [
        event
        for event in dagster_ui.graphql(STEP_FAILURES_QUERY, {"runId": run["runId"]})["logsForRun"]["events"]
        if event["__typename"] == "ExecutionStepFailureEvent"
    ]
    assert [event["stepKey"] for event in failures] == ["xmatters_raw"]
    causes = " ".join(link["error"]["message"] for link in failures[0]["error"]["errorChain"])
    assert "HTTP 401" in causes and "Authentication failed" in causes, causes
    assert simulator.password not in causes and "wrong-password" not in causes

    browser.get(f"{dagster_ui.url}/runs/{run['runId']}")
    _dismiss_community_dialog(browser)
    text = _wait_for_text(browser, "Not executed (")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "failed-run-credentials-run-page.png"))
    assert "Errored (1)" in text, text[:2000]
    assert "Succeeded (0)" in text, text[:2000]
    errored = text.split("Errored (1)", 1)[1].split("Succeeded (0)", 1)[0]
    assert "xmatters_raw" in errored and "c1_sync" not in errored, errored
    assert "HTTP 401" in text, text[:4000]

    # The Catalog: Dagster reads the failed run as every planned asset "Failed" (the limitation above).
    browser.get(f"{dagster_ui.url}/assets")
    _wait_for_text(browser, "c1_sync")
    time.sleep(2.0)
    browser.save_screenshot(str(ARTIFACTS / "failed-run-credentials-catalog.png"))

    _reexecute_the_cli_run_with_the_ui_credentials(dagster_ui, run["runId"])


def _reexecute_the_cli_run_with_the_ui_credentials(ui: DagsterUi, cli_run_id: str) -> None:
    """Re-execute, From failure, as the run page's menu sends it: the new run is the code location's,
    with the webserver's environment (the right password), so it succeeds where the CLI's failed."""
    params = {
        "parentRunId": cli_run_id,
        "strategy": "FROM_FAILURE",
        "extraTags": [{"key": "dagster/from_ui", "value": "true"}],
    }
    launched = ui.graphql(REEXECUTE_MUTATION, {"params": params})["launchPipelineReexecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    deadline = time.monotonic() + RUN_TIMEOUT_S
    run = ui.graphql(RUN_QUERY, {"runId": run_id})["runOrError"]
    while run["status"] not in ("SUCCESS", "FAILURE", "CANCELED") and time.monotonic() < deadline:
        time.sleep(2.0)
        run = ui.graphql(RUN_QUERY, {"runId": run_id})["runOrError"]
    assert run["status"] == "SUCCESS", (run, ui.log_tail())
    assert ui.sync_file.exists()  # the webserver's BATON_FILE
    tags = {tag["key"]: tag["value"] for tag in run["tags"]}
    assert tags["dagster/parent_run_id"] == cli_run_id
    assert tags[STARTED_BY] == "ui", tags  # not the "cli" it inherited
    # the CLI ran on the UI's data home: the same warehouse, so it may re-execute (run_warehouse)
    assert tags[WAREHOUSE] == str((ui.data_home / "warehouse.duckdb").resolve()), tags
    assert run["repositoryOrigin"]["repositoryLocationName"] == "baton_xmatters"
    assert "wrong-password" not in json.dumps(run)  # nothing of the CLI's flags came along


def test_a_blocked_publish_leaves_c1_sync_not_executed(
    browser: webdriver.Chrome, dagster_ui: DagsterUi, simulator: XmattersSimulator
) -> None:
    known = _run_ids(dagster_ui)  # the module's earlier tests' runs (one webserver per module)
    first = _sync(dagster_ui, simulator, simulator.password)
    assert first.returncode == 0, first.stderr[-2000:]
    published = dagster_ui.sync_file.read_bytes()
    # The API account suddenly sees far fewer people: the drop check blocks publishing.
    simulator.serve(cached_org(dataclasses.replace(UI_ORG_SPEC, people=5, hidden_people=0)))
    blocked = _sync(dagster_ui, simulator, simulator.password)
    assert blocked.returncode != 0 and "users_sudden_drop" in blocked.stderr, blocked.stderr[-2000:]
    assert dagster_ui.sync_file.read_bytes() == published

    runs = _new_runs(dagster_ui, known)
    assert [run["status"] for run in runs] == ["FAILURE", "SUCCESS"], runs
    steps = {step["stepKey"]: step["status"] for step in runs[0]["stepStats"]}
    assert steps["xmatters_raw"] == "SUCCESS" and steps["c1_staging__users"] == "SUCCESS", steps
    assert steps["c1_staging__users_checks"] == "FAILURE", steps
    # c1_sync never started: no step stats, so neither failed nor succeeded.
    assert "c1_sync" not in steps and "c1_access_changes" not in steps, steps

    browser.get(f"{dagster_ui.url}/runs/{runs[0]['runId']}")
    _dismiss_community_dialog(browser)
    text = _wait_for_text(browser, "Not executed (")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "blocked-run-run-page.png"))
    errored = text.split("Errored (", 1)[1].split("Succeeded (", 1)[0]
    assert "c1_staging__users_checks" in errored and "c1_sync" not in errored, errored

    # The asset page keeps the previous sync's metadata but, like the Catalog, reads the failed run
    # that planned c1_sync as "Failed" (Dagster 1.13; docs/design.md "A failed run in the UI").
    browser.get(f"{dagster_ui.url}/assets/c1_sync")
    text = _wait_for_text(browser, "Latest materialization")
    _wait_for_text(browser, "sync_id")
    browser.save_screenshot(str(ARTIFACTS / "blocked-run-c1-sync-asset.png"))
    status = " ".join(_wait_for_text(browser, "Failed in").split())
    assert f"Latest materialization Failed in {runs[0]['runId'][:8]}" in status, text[:2000]
    latest = dagster_ui.graphql(LATEST_MATERIALIZATION_QUERY)["assetNodeOrError"]["assetMaterializations"]
    assert [event["runId"] for event in latest] == [runs[1]["runId"]]


def _new_runs(ui: DagsterUi, known: set[str]) -> list[dict[str, Any]]:
    """The runs not in `known`, newest first (the API's order)."""
    return [run for run in ui.graphql(RUNS_QUERY)["runsOrError"]["results"] if run["runId"] not in known]


def _sync_with_wrong_password(
    ui: DagsterUi, simulator: XmattersSimulator
) -> subprocess.CompletedProcess[str]:
    return _sync(ui, simulator, "wrong-password")


def _sync(ui: DagsterUi, simulator: XmattersSimulator, password: str) -> subprocess.CompletedProcess[str]:
    """The CLI's sync against the webserver's Dagster home, so the UI shows the CLI's run."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("BATON_", "DAGSTER_", "DESTINATION__", "SOURCES__", "RUNTIME__"))
    }
    env.update(DAGSTER_HOME=str(ui.dagster_home), BATON_XMATTERS_HOME=str(ui.data_home))
    command = [
        str(Path(sys.executable).parent / "baton-xmatters"),
        "--base-url",
        simulator.base_url,
        "--allow-insecure-http",
        "--username",
        simulator.username,
        "--password",
        password,
        "-f",
        str(ui.sync_file),
    ]
    return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=180)


def _wait_for_text(driver: webdriver.Chrome, needle: str) -> str:
    """The page's text once it shows `needle` and the run's logs (which fill the step lists) are in."""

    def page_text(d: Any) -> str | None:
        text = str(d.find_element(By.TAG_NAME, "body").text)
        return text if needle in text and "Loading run logs" not in text else None

    return str(WebDriverWait(driver, PAGE_TIMEOUT_S, poll_frequency=0.5).until(page_text))


# What the Launchpad's "Launch run" sends (Dagster's ui-core LaunchpadSession / useLaunchWithTelemetry)
LAUNCH_MUTATION = """
mutation Launch($params: ExecutionParams!) {
  launchPipelineExecution(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on PythonError { message }
  }
}
"""
TYPED_PASSWORD = "typed-into-the-launchpad-5ecret"


def test_a_password_typed_into_the_launchpad_is_refused_before_any_run_is_stored(
    dagster_ui: DagsterUi, simulator: XmattersSimulator
) -> None:
    """`password: "..."` in the Launchpad's config was stored in the run (runs.db) and shown under
    "View tags and config"; Dagster's validation of the run config, done before it creates the run,
    now refuses it. `{env: BATON_PASSWORD}`, the variable's name, launches and syncs."""
    known = _run_ids(dagster_ui)
    launched = _launch(dagster_ui, {"password": TYPED_PASSWORD})
    assert launched["__typename"] == "RunConfigValidationInvalid", launched
    messages = [error["message"] for error in launched["errors"]]
    assert len(messages) == 1, messages
    assert "root:resources:xmatters:config:password" in messages[0], messages
    assert "env" in messages[0] and TYPED_PASSWORD not in messages[0], messages
    assert _new_runs(dagster_ui, known) == []
    stored = [path for path in dagster_ui.dagster_home.rglob("*") if path.is_file()]
    assert any(path.name == "runs.db" for path in stored), stored
    assert not [path for path in stored if TYPED_PASSWORD.encode() in path.read_bytes()]

    launched = _launch(dagster_ui, {"password": {"env": "BATON_PASSWORD"}})
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    run = _finished(dagster_ui, run_id)
    assert run["status"] == "SUCCESS", (run, dagster_ui.log_tail())
    assert "BATON_PASSWORD" in run["runConfigYaml"], run["runConfigYaml"]
    stored = [path for path in dagster_ui.dagster_home.rglob("*") if path.is_file()]
    assert not [path for path in stored if simulator.password.encode() in path.read_bytes()]

    # A run stored before the rule with a typed password: its re-execution, which reuses its run
    # config, is refused when the code location plans it, before Dagster creates the new run.
    parent = _stored_with_a_typed_password(dagster_ui, run_id)
    params = {"parentRunId": parent, "strategy": "ALL_STEPS"}
    refused = _answer_of_http_500(dagster_ui, REEXECUTE_MUTATION, {"params": params})[
        "launchPipelineReexecution"
    ]
    assert refused["__typename"] == "PythonError", refused
    assert "root:resources:xmatters:config:password must be dict" in refused["message"], refused
    assert TYPED_PASSWORD not in refused["message"]
    assert {new["runId"] for new in _new_runs(dagster_ui, known)} == {run_id, parent}


def _launch(ui: DagsterUi, xmatters_config: dict[str, Any]) -> dict[str, Any]:
    """Launches the sync job with `xmatters_config` as the xmatters resource's config, as the
    Launchpad does (base URL and user: their defaults, the webserver's environment)."""
    params = {
        "selector": {
            "repositoryLocationName": LOCATION,
            "repositoryName": "__repository__",
            "jobName": "xmatters_sync",
        },
        "runConfigData": {"resources": {"xmatters": {"config": xmatters_config}}},
        "mode": "default",
        "executionMetadata": {"tags": [{"key": "dagster/from_ui", "value": "true"}]},
    }
    return ui.graphql(LAUNCH_MUTATION, {"params": params})["launchPipelineExecution"]


def _stored_with_a_typed_password(ui: DagsterUi, run_id: str) -> str:
    """A failed copy of run `run_id` whose config holds `TYPED_PASSWORD`, as runs launched with one
    before the password's field took a variable's name only were stored; returns its id."""
    with dg.DagsterInstance.from_config(str(ui.dagster_home)) as instance:
        run = instance.get_run_by_id(run_id)
        assert run is not None
        typed = {"resources": {"xmatters": {"config": {"password": TYPED_PASSWORD}}}}
        copy = dg.DagsterRun(
            **{
                **run._asdict(),
                "run_id": make_new_run_id(),
                "run_config": typed,
                "status": dg.DagsterRunStatus.FAILURE,
            }
        )
        instance.add_run(copy)
    return copy.run_id


def _answer_of_http_500(ui: DagsterUi, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """`data` of a GraphQL answer the webserver sends with HTTP status 500 (a PythonError of the code
    location, which the UI shows in a dialog)."""
    body = json.dumps({"query": query, "variables": variables}).encode()
    request = urllib.request.Request(
        f"{ui.url}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with pytest.raises(urllib.error.HTTPError) as answered:
        urllib.request.urlopen(request, timeout=60)
    assert answered.value.code == 500
    return json.loads(answered.value.read())["data"]


def _finished(ui: DagsterUi, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    run = ui.graphql(RUN_QUERY, {"runId": run_id})["runOrError"]
    while run["status"] not in ("SUCCESS", "FAILURE", "CANCELED") and time.monotonic() < deadline:
        time.sleep(2.0)
        run = ui.graphql(RUN_QUERY, {"runId": run_id})["runOrError"]
    return run
