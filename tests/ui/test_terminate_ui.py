"""The run page's Terminate, clicked while the raw step waits on xMatters: what the person reads.

One red line on the stopped step naming what was kept, the run Canceled with Dagster's plain
"Run was canceled. Failed steps: [...]": no `DagsterExecutionInterruptedError` and no stack trace
under the canceled line, no "Dependencies for step ... Not executing." line per later step
(orchestration/stopping_executor.py), and nothing published.
"""

from __future__ import annotations

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from simulator import FaultRule, Faults, XmattersSimulator
from tests.ui.test_dagster_ui import (
    ARTIFACTS,
    JOB_PATH,
    RUN_TIMEOUT_S,
    _button,
    _click,
    _dismiss_community_dialog,
    _expanded_graph_url,
    _new_run,
    _screenshot,
    _screenshot_on_failure,
    _terminal_status_any,
    _text,
    _wait,
)
from tests.ui.webserver import DagsterUi

RUN_EVENTS_QUERY = """
query Logs($runId: ID!) {
  logsForRun(runId: $runId) {
    ... on EventConnection {
      events {
        __typename
        ... on MessageEvent { message stepKey }
        ... on ExecutionStepFailureEvent { error { message } failureMetadata { metadataEntries { label } } }
        ... on RunCanceledEvent { error { message } }
      }
    }
  }
}
"""


def _events(ui: DagsterUi, run_id: str) -> list[dict]:
    return ui.graphql(RUN_EVENTS_QUERY, {"runId": run_id})["logsForRun"]["events"]


def _raw_step_started(ui: DagsterUi, run_id: str) -> bool:
    return any(
        e["__typename"] == "ExecutionStepStartEvent" and e["stepKey"] == "xmatters_raw"
        for e in _events(ui, run_id)
    )


def _text_with(driver: webdriver.Chrome, *needles: str) -> str | None:
    text = _text(driver)
    return text if all(needle in text for needle in needles) else None


@pytest.mark.browser
def test_terminate_during_the_raw_step_reads_as_one_line(
    browser: webdriver.Chrome, dagster_ui: DagsterUi, simulator: XmattersSimulator
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # xMatters answers /people slowly: the raw step is still waiting when the person clicks Terminate
    simulator.faults = Faults(rules=[FaultRule("slow", path_contains="/people", delay_s=60.0, times=None)])
    with _screenshot_on_failure(browser, "terminate-failure"):
        browser.get(_expanded_graph_url(dagster_ui, JOB_PATH))
        _wait(browser, lambda d: "Materialize all" in _text(d), "the job page's Materialize all button")
        _dismiss_community_dialog(browser)
        _click(browser, _button(browser, "Materialize all"))
        run_id = _wait(browser, lambda d: _new_run(d, dagster_ui, set()), "the run the click launched")
        _wait(
            browser, lambda d: _raw_step_started(dagster_ui, run_id), "the raw step to start", RUN_TIMEOUT_S
        )

        browser.get(f"{dagster_ui.url}/runs/{run_id}")
        _click(browser, _button(browser, "Terminate"))
        confirm = _wait(
            browser,
            lambda d: [
                b
                for b in d.find_elements(By.XPATH, "//button[normalize-space()='Terminate 1 run']")
                if b.is_enabled()
            ],
            "the Terminate dialog's Terminate button (not only Force termination: the run has started)",
        )
        _click(browser, confirm[0])
        status = _wait(
            browser, lambda d: _terminal_status_any(dagster_ui, run_id), "the run to end", RUN_TIMEOUT_S
        )
        assert status == "CANCELED", dagster_ui.log_tail()

        line = (
            "Run stopped by the user (Terminate) during step xmatters_raw: nothing was published; "
            f"the previous {dagster_ui.sync_file} and c1 tables are kept; the steps after it did not run."
        )
        browser.refresh()
        page = _wait(browser, lambda d: _text_with(d, line, "Run was canceled"), "the stopped step's line")
        _screenshot(browser, "21-terminated-run")

    events = _events(dagster_ui, run_id)
    failures = [e for e in events if e["__typename"] == "ExecutionStepFailureEvent"]
    assert [e["stepKey"] for e in failures] == ["xmatters_raw"]
    [canceled] = [e for e in events if e["__typename"] == "RunCanceledEvent"]
    assert canceled["error"] is None, canceled  # no interrupt and stack trace under the canceled line
    assert canceled["message"] == "Run was canceled. Failed steps: ['xmatters_raw']."
    assert not [e["message"] for e in events if "Dependencies for step" in (e.get("message") or "")]
    assert "DagsterExecutionInterruptedError" not in page
    assert not dagster_ui.sync_file.exists()
    assert simulator.password not in page
