"""The Dagster UI as a person uses it: open the job, click "Materialize all", watch it succeed.

The browser is the only thing that launches the run; GraphQL and the files on disk are used afterwards
to confirm what the pages show (run status, every check passed, a `.c1z` baton can read). Screenshots
land in `test-artifacts/ui/` so a failure on CI can be looked at.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import pytest
from selenium import webdriver
from selenium.common.exceptions import (
    ElementClickInterceptedException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from pipelines.c1z.reader import open_c1z
from simulator import FaultRule, Faults, Org, XmattersSimulator
from tests.ui.webserver import LOCATION, REPO_ROOT, DagsterUi

ARTIFACTS = REPO_ROOT / "test-artifacts" / "ui"
JOB = "xmatters_sync"
JOB_PATH = f"/locations/{LOCATION}/jobs/{JOB}"
RUN_TIMEOUT_S = 240.0
PAGE_TIMEOUT_S = 60.0
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}

# The assets the issue names: the raw layer (dlt), the staged `c1` tables and the published sync file.
# Other assets may be added to the job; these must be there. Written out here, not shared with
# tests/orchestration/test_definitions.py (`duplicates` pairs the lists): that one pins the code
# location's exact graph, this one is the list the page is checked against.
REQUIRED_ASSETS = {
    "xmatters_raw/people",
    "xmatters_raw/groups",
    "xmatters_raw/group_members",
    "c1_staging/users",
    "c1_staging/groups",
    "c1_staging/entitlements",
    "c1_staging/memberships",
    "c1_staging/grants",
    "c1_sync",
}
GRANTS_CHECKS = {
    "grant_principals_exist",
    "grant_entitlements_exist",
    "grants_expectations",
    "grants_sudden_drop",
}

T = TypeVar("T")

# Every asset of the code location (the job selects them all) with its latest materialization and checks.
ASSET_STATE_QUERY = """
query {
  assetNodes {
    assetKey { path }
    groupName
    assetMaterializations(limit: 1) { runId }
    assetChecksOrError {
      __typename
      ... on AssetChecks { checks { name blocking executionForLatestMaterialization { runId status } } }
    }
  }
}
"""

# The asset groups of the code location (the job selects all its assets), for the graph's `?expanded=`.
GROUPS_QUERY = "query { assetNodes { groupName } }"

RUNS_QUERY = """
query Runs($job: String!) {
  runsOrError(filter: {pipelineName: $job}) { ... on Runs { results { runId status } } }
}
"""

# Every run, whatever job launched it: "Materialize all" on the Lineage page and an asset's own
# "Materialize" launch Dagster's implicit asset job, not `xmatters_sync`.
ALL_RUNS_QUERY = """
query { runsOrError { ... on Runs { results { runId status jobName } } } }
"""


@pytest.mark.browser
def test_materialize_all_from_the_job_page(
    browser: webdriver.Chrome, dagster_ui: DagsterUi, org: Org
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    with _screenshot_on_failure(browser, "failure"):
        _drive_the_ui(browser, dagster_ui, org)


def _drive_the_ui(driver: webdriver.Chrome, ui: DagsterUi, org: Org) -> None:
    # 1. The job page, its asset graph with the groups expanded: every asset is named on the page.
    known = _run_ids(ui)  # the module's earlier tests' runs (one webserver per module)
    expanded_job_graph = _expanded_graph_url(ui, JOB_PATH)
    driver.get(expanded_job_graph)
    _wait(driver, lambda d: "Materialize all" in _text(d), "the job page with its Materialize all button")
    _dismiss_community_dialog(driver)
    names = {key.rsplit("/", 1)[-1] for key in REQUIRED_ASSETS}
    _zoom_graph_to_fit(
        driver, lambda d: names <= set(_text(d).splitlines()), f"asset names {sorted(names)} in the graph"
    )
    _screenshot(driver, "01-job-graph-before")

    # 2. Materialize all, as a person would; confirm a launchpad if one opens.
    _click(driver, _button(driver, "Materialize all"))
    run_id = _wait(
        driver, lambda d: _launched_run(d, ui, known), "a run launched by the click", RUN_TIMEOUT_S / 4
    )
    driver.get(f"{ui.url}/runs/{run_id}")

    # 3. The run page until the run ends (bounded); its status from the API and on the page.
    status = _wait(driver, lambda d: _terminal_status(ui, run_id), f"run {run_id} to finish", RUN_TIMEOUT_S)
    assert status == "SUCCESS", f"run {run_id} ended {status}:\n{ui.log_tail()}"
    driver.refresh()
    _wait(driver, lambda d: re.search(r"^Success$", _text(d), re.MULTILINE), "Success on the run page")
    _wait(driver, lambda d: "c1_sync" in _text(d), "the c1_sync step in the run page")
    _screenshot(driver, "02-run-success")

    # 4. The API agrees: every asset of the job materialized by this run, every check of it passed.
    nodes = ui.graphql(ASSET_STATE_QUERY)["assetNodes"]
    keys = {"/".join(node["assetKey"]["path"]): node for node in nodes}
    assert set(keys) >= REQUIRED_ASSETS, f"missing assets: {REQUIRED_ASSETS - set(keys)}"
    not_by_run = [k for k, n in keys.items() if [m["runId"] for m in n["assetMaterializations"]] != [run_id]]
    assert not_by_run == [], f"assets not materialized by run {run_id}: {not_by_run}"
    checks = {
        (key, check["name"]): check
        for key, node in keys.items()
        for check in node["assetChecksOrError"].get("checks", [])
    }
    assert {name for key, name in checks if key == "c1_staging/grants"} >= GRANTS_CHECKS
    failed = {
        f"{key}:{name}": (check["executionForLatestMaterialization"] or {}).get("status")
        for (key, name), check in checks.items()
        if (check["executionForLatestMaterialization"] or {}).get("status") != "SUCCEEDED"
    }
    assert failed == {}, f"checks that did not pass: {failed}"
    assert all(check["blocking"] for check in checks.values()), "every check guards publishing"

    # 5. The graph after the run: both groups, and the c1 group's lineage with its check results.
    driver.get(expanded_job_graph)
    _wait(driver, lambda d: "Latest run:" in _text(d), "the job page showing the latest run")
    _zoom_graph_to_fit(
        driver, lambda d: names <= set(_text(d).splitlines()), "every asset name in the graph after the run"
    )
    _screenshot(driver, "03-job-graph-after")

    driver.get(f"{ui.url}/locations/{LOCATION}/asset-groups/c1/lineage")
    c1_assets = [key for key, node in keys.items() if node["groupName"] == "c1"]
    checks_per_asset = {key: sum(1 for k, _ in checks if k == key) for key in c1_assets}
    _wait(
        driver,
        lambda d: _text(d).count("Materialized") >= len(c1_assets),
        f"the {len(c1_assets)} assets of the c1 group shown as materialized",
    )
    page = _text(driver)
    for key, count in checks_per_asset.items():
        name = key.rsplit("/", 1)[-1]
        assert name in page.splitlines(), f"{name} not in the c1 lineage"
        if count:
            node = re.compile(rf"(?m)^{name}\nLatest event\n[^\n]*\nAsset checks\n{count} / {count} Passed$")
            assert node.search(page), f"the {name} node does not show its {count} checks passed:\n{page}"
    assert "Failed" not in page
    _screenshot(driver, "04-c1-lineage-after")

    # 6. The asset page of the staged grants: every check named, each one Succeeded.
    driver.get(f"{ui.url}/assets/c1_staging/grants?view=checks")
    _wait(
        driver,
        lambda d: all(f"{name}\nSucceeded" in _text(d) for name in GRANTS_CHECKS),
        f"checks {sorted(GRANTS_CHECKS)} listed as Succeeded on the grants asset page",
    )
    _wait(driver, lambda d: "Passed" in _text(d), "the selected check's evaluation result Passed")
    _screenshot(driver, "05-grants-checks")

    # 7. What the run wrote: a .c1z at BATON_FILE that reads back with the simulated org's counts,
    #    and the warehouse in the temporary data home the webserver was given.
    stats = _read_stats(ui.sync_file)
    assert stats["resource_types"] == {
        "user": len(org.people) + len(org.hidden_people),
        "group": len(org.groups),
    }
    assert stats["entitlements"] == len(org.groups)
    assert stats["grants"] == len(set(org.person_memberships()))
    assert (ui.data_home / "warehouse.duckdb").exists()


@pytest.mark.browser
def test_materialize_all_from_the_lineage_page_then_one_asset(
    browser: webdriver.Chrome, dagster_ui: DagsterUi, org: Org
) -> None:
    """The global Lineage page's "Materialize all" (Dagster's implicit asset job, not `xmatters_sync`)
    and, after it, one asset's own "Materialize" (a subset run of the staged grants alone)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with _screenshot_on_failure(browser, "lineage-failure"):
        _drive_lineage_and_asset_page(browser, dagster_ui, org)


def _drive_lineage_and_asset_page(driver: webdriver.Chrome, ui: DagsterUi, org: Org) -> None:
    known = _run_ids(ui)  # the module's earlier tests' runs (one webserver per module)
    driver.get(ui.url + "/asset-groups")
    _wait(driver, lambda d: "Materialize all" in _text(d), "the Lineage page with its Materialize all button")
    _dismiss_community_dialog(driver)
    _screenshot(driver, "11-lineage-before")
    _click(driver, _button(driver, "Materialize all"))
    first = _wait(driver, lambda d: _new_run(d, ui, known), "a run launched from the Lineage page", 60)
    status = _wait(driver, lambda d: _terminal_status_any(ui, first), f"run {first} to finish", RUN_TIMEOUT_S)
    assert status == "SUCCESS", f"run {first} ended {status}:\n{ui.log_tail()}"
    stats = _read_stats(ui.sync_file)
    assert stats["grants"] == len(set(org.person_memberships()))
    assert stats["resource_types"]["group"] == len(org.groups)
    written = ui.sync_file.stat().st_mtime_ns
    nodes = ui.graphql(ASSET_STATE_QUERY)["assetNodes"]
    not_by_run = [
        "/".join(n["assetKey"]["path"])
        for n in nodes
        if [m["runId"] for m in n["assetMaterializations"]] != [first]
    ]
    assert not_by_run == [], f"assets not materialized by the Lineage page's run {first}: {not_by_run}"
    driver.get(_expanded_graph_url(ui, "/asset-groups"))
    _zoom_graph_to_fit(
        driver, lambda d: "c1_sync" in _text(d).splitlines(), "c1_sync in the expanded lineage"
    )
    _screenshot(driver, "12-lineage-after")

    # One asset's own page: Materialize only the staged grants (its upstream is already there).
    driver.get(f"{ui.url}/assets/c1_staging/grants")
    _wait(driver, lambda d: "Materialize" in _text(d), "the grants asset page with its Materialize button")
    _click(driver, _button(driver, "Materialize"))
    second = _wait(
        driver, lambda d: _new_run(d, ui, known | {first}), "a run launched from the asset page", 60
    )
    status = _wait(
        driver, lambda d: _terminal_status_any(ui, second), f"run {second} to finish", RUN_TIMEOUT_S
    )
    assert status == "SUCCESS", f"run {second} ended {status}:\n{ui.log_tail()}"
    assert ui.sync_file.stat().st_mtime_ns == written, "a run of the staged grants alone published a file"
    grants = next(
        n for n in ui.graphql(ASSET_STATE_QUERY)["assetNodes"] if n["assetKey"]["path"][-1] == "grants"
    )
    assert [m["runId"] for m in grants["assetMaterializations"]] == [second]
    outcomes = {
        c["name"]: (c["executionForLatestMaterialization"] or {}).get("status")
        for c in grants["assetChecksOrError"]["checks"]
    }
    assert set(outcomes) >= GRANTS_CHECKS and set(outcomes.values()) == {"SUCCEEDED"}, outcomes
    driver.refresh()
    _wait(driver, lambda d: "Latest check results" in _text(d), "the grants asset page after its run")
    _screenshot(driver, "13-grants-asset-after")


@pytest.mark.browser
def test_a_failed_run_re_executed_from_failure_publishes(
    browser: webdriver.Chrome, dagster_ui: DagsterUi, simulator: XmattersSimulator, org: Org
) -> None:
    """xMatters refuses the account for a while: the UI run fails at the raw step. Once it answers
    again, the run page's Re-execute menu, "From failure", runs the failed step and everything after
    it, and the sync is published: what a person does after an outage."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    known = _run_ids(dagster_ui)  # the module's earlier tests' runs (one webserver per module)
    published = _file_state(dagster_ui.sync_file)  # their sync file, if any
    with _screenshot_on_failure(browser, "reexecute-failure"):
        simulator.faults = Faults(rules=[FaultRule("status", status=403, times=None)])
        browser.get(_expanded_graph_url(dagster_ui, JOB_PATH))
        _wait(browser, lambda d: "Materialize all" in _text(browser), "the job page's Materialize all button")
        _dismiss_community_dialog(browser)
        _click(browser, _button(browser, "Materialize all"))
        failed = _wait(browser, lambda d: _new_run(d, dagster_ui, known), "the run the click launched")
        status = _wait(browser, lambda d: _terminal_status_any(dagster_ui, failed), "the run", RUN_TIMEOUT_S)
        assert status == "FAILURE", dagster_ui.log_tail()
        assert _file_state(dagster_ui.sync_file) == published  # none written, or the earlier one as it was

        simulator.faults = Faults()  # xMatters answers again
        browser.get(f"{dagster_ui.url}/runs/{failed}")
        _wait(browser, lambda d: "Errored (1)" in _text(d), "the failed run's page with its errored step")
        menu = _wait(
            browser,
            lambda d: d.find_elements(
                By.XPATH, "//button[starts-with(normalize-space(),'Re-execute')]/following::button[1]"
            ),
            "the Re-execute menu's button",
        )
        _click(browser, menu[0])
        _click(
            browser,
            _wait(browser, lambda d: _visible_menu_item(d, "From failure"), "From failure in the menu"),
        )
        again = _wait(
            browser, lambda d: _new_run(d, dagster_ui, known | {failed}), "the re-execution the menu launched"
        )
        status = _wait(
            browser, lambda d: _terminal_status_any(dagster_ui, again), "the re-execution", RUN_TIMEOUT_S
        )
        assert status == "SUCCESS", dagster_ui.log_tail()
        browser.get(f"{dagster_ui.url}/runs/{again}")
        _wait(browser, lambda d: re.search(r"^Success$", _text(d), re.MULTILINE), "Success on the run page")
        _screenshot(browser, "14-reexecuted-from-failure")

    stats = _read_stats(dagster_ui.sync_file)
    assert stats["grants"] == len(set(org.person_memberships()))
    assert {run["runId"]: run["status"] for run in _all_runs(dagster_ui) if run["runId"] not in known} == {
        failed: "FAILURE",
        again: "SUCCESS",
    }


def _visible_menu_item(driver: webdriver.Chrome, label: str) -> WebElement | None:
    """A shown item of an open menu (Dagster's menus are `role="menuitem"` links)."""
    items = driver.find_elements(
        By.XPATH, f"//*[@role='menuitem'][normalize-space()='{label}'] | //a[normalize-space()='{label}']"
    )
    return next((item for item in items if item.is_displayed()), None)


def _all_runs(ui: DagsterUi) -> list[dict[str, str]]:
    return ui.graphql(ALL_RUNS_QUERY)["runsOrError"]["results"]


def _run_ids(ui: DagsterUi) -> set[str]:
    """Every run of the webserver's home so far: a test's own runs are the ones not in it."""
    return {run["runId"] for run in _all_runs(ui)}


def _file_state(path: Path) -> tuple[int, bytes] | None:
    """The file's modification time and bytes, None when there is no file."""
    return (path.stat().st_mtime_ns, path.read_bytes()) if path.exists() else None


def _new_run(driver: webdriver.Chrome, ui: DagsterUi, known: set[str]) -> str | None:
    """The id of the one run a click launched (confirming a launch dialog if one opened)."""
    for label in ("Launch run", "Materialize", "Confirm"):
        for button in driver.find_elements(
            By.XPATH, f"//*[contains(@class,'bp5-dialog')]//button[normalize-space()='{label}']"
        ):
            if button.is_enabled():
                button.click()
    new = [run["runId"] for run in _all_runs(ui) if run["runId"] not in known]
    assert len(new) <= 1, f"one click launched {len(new)} runs: {new}"
    return new[0] if new else None


def _terminal_status_any(ui: DagsterUi, run_id: str) -> str | None:
    status = next(r["status"] for r in _all_runs(ui) if r["runId"] == run_id)
    return status if status in TERMINAL else None


def _read_stats(path: Path) -> dict[str, Any]:
    assert path.exists(), f"no sync file at {path}"
    with open_c1z(path) as reader:
        return reader.stats()


def _runs(ui: DagsterUi) -> list[dict[str, str]]:
    return ui.graphql(RUNS_QUERY, {"job": JOB})["runsOrError"]["results"]


def _launched_run(driver: webdriver.Chrome, ui: DagsterUi, known: set[str]) -> str | None:
    """The id of the one run of the job the click launched (runs in `known` were there before it);
    confirms a launchpad or confirmation dialog if one opened."""
    for label in ("Launch run", "Materialize", "Confirm"):
        for button in driver.find_elements(
            By.XPATH, f"//*[contains(@class,'bp5-dialog')]//button[normalize-space()='{label}']"
        ):
            if button.is_enabled():
                button.click()
    runs = [run for run in _runs(ui) if run["runId"] not in known]
    if not runs:
        return None
    assert len(runs) == 1, f"one click launched {len(runs)} runs: {runs}"
    return runs[0]["runId"]


def _terminal_status(ui: DagsterUi, run_id: str) -> str | None:
    status = next(r["status"] for r in _runs(ui) if r["runId"] == run_id)
    return status if status in TERMINAL else None


def _dismiss_community_dialog(driver: webdriver.Chrome) -> None:
    """Dagster greets a new browser profile with a newsletter dialog over the page; a person skips it."""
    try:
        skip = WebDriverWait(driver, 10).until(
            lambda d: d.find_elements(By.XPATH, "//button[normalize-space()='Skip']")
        )
    except TimeoutException:
        return
    skip[0].click()
    _wait(
        driver, lambda d: not d.find_elements(By.XPATH, "//button[normalize-space()='Skip']"), "dialog closed"
    )


def _expanded_graph_url(ui: DagsterUi, path: str) -> str:
    """The asset graph page at `path` with every asset group expanded.

    It is the link the UI writes itself when a person picks "Expand all groups" in the graph's
    settings menu: `?expanded=` lists the groups' ids, `global@global:<group>` in Dagster 1.13
    (`<repo>@<location>:<group>` only behind a feature flag a fresh browser profile does not set).
    Opening it needs no click on that menu: its item toggles, and after a run, while live data
    re-rendered the graph, a click on it was seen to do nothing for 20 s.
    """
    groups = sorted({node["groupName"] for node in ui.graphql(GROUPS_QUERY)["assetNodes"]})
    expanded = ",".join(f"global@global:{group}" for group in groups)
    return f"{ui.url}{path}?{urlencode({'expanded': expanded})}"


def _zoom_graph_to_fit(
    driver: webdriver.Chrome, shown: Callable[[webdriver.Chrome], bool], what: str
) -> None:
    """Double-clicks the graph's background, Dagster's zoom-to-fit, until `shown` holds.

    Only the nodes in view are rendered. The graph fits itself to the width its viewport has when
    it is first laid out, before the job page's Info panel narrows that viewport, so an expanded
    graph first shows only its left part, cut at the top and bottom. A double click fits it to the
    viewport as it is then; unlike the settings menu's toggle it can be repeated without undoing
    itself, so it is while the page is still settling.
    """
    deadline = time.monotonic() + PAGE_TIMEOUT_S
    while True:
        x, y = _wait(driver, lambda d: d.execute_script(_GRAPH_BACKGROUND_POINT_JS), "the graph's background")
        actions = ActionBuilder(driver)
        actions.pointer_action.move_to_location(x, y)
        actions.pointer_action.double_click()
        actions.perform()
        if _holds_within(driver, shown, 3.0):
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {PAGE_TIMEOUT_S:.0f}s waiting for {what} (graph zoomed to fit)"
            )


# A point of the page where the graph's bare background is on top, with a margin (no node, group
# box, edge label or toolbar there); `null` until the graph is drawn.
_GRAPH_BACKGROUND_POINT_JS = """
const viewport = document.querySelector('[data-svg-viewport]');
const svg = viewport && viewport.querySelector('svg');
if (!svg) return null;
const bare = (x, y) => [viewport, viewport.firstChild, svg].includes(document.elementFromPoint(x, y));
const r = viewport.getBoundingClientRect();
for (let fy = 0.1; fy < 0.95; fy += 0.04) {
  for (let fx = 0.05; fx < 0.9; fx += 0.04) {
    const x = Math.round(r.left + r.width * fx), y = Math.round(r.top + r.height * fy);
    if ([[0, 0], [-6, 0], [6, 0], [0, -6], [0, 6]].every(([dx, dy]) => bare(x + dx, y + dy))) return [x, y];
  }
}
return null;
"""


def _holds_within(
    driver: webdriver.Chrome, condition: Callable[[webdriver.Chrome], bool], seconds: float
) -> bool:
    """Whether `condition` holds at some point within `seconds` (polled)."""
    deadline = time.monotonic() + seconds
    while True:
        with contextlib.suppress(StaleElementReferenceException):
            if condition(driver):
                return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.25)


def _button(driver: webdriver.Chrome, label: str) -> WebElement:
    return _wait(
        driver,
        lambda d: [
            b for b in d.find_elements(By.XPATH, f"//button[normalize-space()='{label}']") if b.is_enabled()
        ],
        f"an enabled {label!r} button",
    )[0]


def _click(driver: webdriver.Chrome, element: WebElement) -> None:
    """Clicks; when an overlay (a late dialog) is in the way, dismisses it and clicks again."""
    try:
        element.click()
    except ElementClickInterceptedException:
        _dismiss_community_dialog(driver)
        element.click()


def _text(driver: webdriver.Chrome) -> str:
    return driver.find_element(By.TAG_NAME, "body").text


def _wait(
    driver: webdriver.Chrome,
    condition: Callable[[webdriver.Chrome], T],
    what: str,
    timeout: float = PAGE_TIMEOUT_S,
) -> T:
    """Polls `condition` until it returns something truthy; on timeout says what was awaited."""
    try:
        return WebDriverWait(
            driver, timeout, poll_frequency=0.5, ignored_exceptions=(StaleElementReferenceException,)
        ).until(condition)
    except TimeoutException:
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}") from None


def _screenshot(driver: webdriver.Chrome, name: str) -> None:
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


@contextmanager
def _screenshot_on_failure(driver: webdriver.Chrome, name: str) -> Iterator[None]:
    """The page as it was when the block failed (an assertion, a timeout, Ctrl-C), saved as `name`."""
    try:
        yield
    except BaseException:
        _screenshot(driver, name)
        raise
