"""The Automation page's buttons: the schedule's toggle and the previews of a tick, as a person clicks them.

"Preview tick result" of `xmatters_failed_check_alert`, its optional cursor field left empty, failed
with `ValueError: invalid literal for int() with base 10: ''` and a stack trace (the UI sends the
empty field as the cursor). The schedule's preview must request one run of the sync job, and its
toggle must start and stop it. Nothing is launched: launching the previewed run was clicked by hand
and ran a full sync (the report of this change).
"""

from __future__ import annotations

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.ui.test_dagster_ui import (
    ARTIFACTS,
    _button,
    _click,
    _dismiss_community_dialog,
    _screenshot,
    _screenshot_on_failure,
    _text,
    _wait,
)
from tests.ui.webserver import LOCATION, DagsterUi

SCHEDULE = "xmatters_sync_daily"
CHECK_SENSOR = "xmatters_failed_check_alert"
SCHEDULE_STATUS = """
query($location: String!, $name: String!) {
  scheduleOrError(scheduleSelector: {repositoryLocationName: $location, repositoryName: "__repository__",
    scheduleName: $name}) { ... on Schedule { scheduleState { status } } }
}
"""


def _page(ui: DagsterUi, kind: str, name: str) -> str:
    return f"{ui.url}/locations/__repository__@{LOCATION}/{kind}/{name}"


def _preview(driver: webdriver.Chrome, then: str) -> str:
    """Opens "Preview tick result", continues past its first step, returns the result's text."""
    _click(driver, _button(driver, "Preview tick result"))
    _click(driver, _button(driver, "Continue"))
    dialog = _wait(driver, lambda d: then in _text(d) and _text(d), f"the preview's {then!r}")
    return dialog[dialog.index("Preview tick result for") :]


def _schedule_status(ui: DagsterUi) -> str:
    return ui.graphql(SCHEDULE_STATUS, {"location": LOCATION, "name": SCHEDULE})["scheduleOrError"][
        "scheduleState"
    ]["status"]


@pytest.mark.browser
def test_the_schedule_toggles_and_both_previews_evaluate(
    browser: webdriver.Chrome, dagster_ui: DagsterUi
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with _screenshot_on_failure(browser, "automation-failure"):
        browser.get(_page(dagster_ui, "sensors", CHECK_SENSOR))
        _dismiss_community_dialog(browser)
        result = _preview(browser, "Skip reason")
        _screenshot(browser, "30-check-sensor-preview")
        assert "Skipped" in result and "started: runs that finish from now on are checked" in result, result
        assert "Error" not in result, result

        browser.get(_page(dagster_ui, "schedules", SCHEDULE))
        assert _schedule_status(dagster_ui) == "STOPPED"
        for status in ("RUNNING", "STOPPED"):
            toggle = _wait(
                browser, lambda d: d.find_elements(By.XPATH, "//input[@type='checkbox']"), "toggle"
            )
            browser.execute_script("arguments[0].click()", toggle[0])  # the switch's input is drawn over
            _wait(browser, lambda d, s=status: _schedule_status(dagster_ui) == s, f"the schedule {status}")
        result = _preview(browser, "Requested runs (1)")
        _screenshot(browser, "31-schedule-preview")
        assert "xmatters_sync" in result, result
