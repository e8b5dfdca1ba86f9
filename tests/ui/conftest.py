"""Fixtures for the browser test: headless Chromium, a simulator and a Dagster webserver on a temp home.

Chromium comes from Debian and is installed here when missing (CI runs as root on a fresh machine of
the same kind), so nobody has to prepare an image by hand; the test is skipped only when no browser
can be installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from simulator import Faults, Org, OrgSpec, XmattersSimulator
from tests.ui.webserver import DagsterUi, running_webserver

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

# Small enough that the whole sync takes seconds; every member type and a hidden person still occur.
UI_ORG_SPEC = OrgSpec(
    seed=11, people=60, groups=8, members_per_group=6, hidden_people=2, large_groups=0, large_group_size=0
)


def _browser_install_skip_reason() -> str | None:
    """Installs Chromium and its driver from Debian when missing; returns why not when it cannot.

    CI runs as root on a fresh machine of the same kind, so the test provisions its own browser
    instead of relying on a hand-made image.
    """
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return None
    if shutil.which("apt-get") is None:
        return "no Chromium at /usr/bin/chromium and no apt-get to install it"
    if os.geteuid() != 0:
        return "no Chromium at /usr/bin/chromium and not root, so apt-get cannot install it"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", "chromium", "chromium-driver"],
    ):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, check=False)
        if done.returncode != 0:
            shown = " ".join(command)
            return f"installing Chromium failed: {shown} exited {done.returncode}: {done.stderr[-800:]}"
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        return "apt-get installed chromium and chromium-driver but /usr/bin/chromium{,driver} are missing"
    return None


@pytest.fixture(scope="session")
def chromium_installed() -> None:
    reason = _browser_install_skip_reason()
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture
def browser(chromium_installed: None, tmp_path: Path) -> Iterator[webdriver.Chrome]:
    """Headless Chromium with the flags this closed network needs (no background connections)."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1920,1200",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def org_spec() -> OrgSpec:
    """The UI tests' org: tests/conftest.py's `org` and `simulator` serve it in this folder."""
    return UI_ORG_SPEC


@pytest.fixture(scope="module")
def module_simulator(org: Org) -> Iterator[XmattersSimulator]:
    """The simulator of the module's webserver: its URL and credentials are in the webserver's
    environment, so it lives as long as the webserver does."""
    with XmattersSimulator(org) as sim:
        yield sim


def _reset(sim: XmattersSimulator, org: Org) -> None:
    sim.faults = Faults()
    sim.serve(org)


@pytest.fixture
def simulator(module_simulator: XmattersSimulator, org: Org) -> Iterator[XmattersSimulator]:
    """tests/conftest.py's `simulator` in this folder: the module's, serving `org` without faults when
    each test starts and again after it, whatever the test set meanwhile (faults, another org)."""
    _reset(module_simulator, org)
    yield module_simulator
    _reset(module_simulator, org)


@pytest.fixture(scope="module")
def dagster_ui(
    module_simulator: XmattersSimulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DagsterUi]:
    """One webserver per module (its start loads the code location: ~20 s of CPU, and its stop waits
    ~8 s for the code server), so its tests share one Dagster home and data home: each test reads
    the runs it launched (new since it started), not the whole history.

    The simulator runs in the test process: the run worker reaches it over 127.0.0.1 like any API."""
    with running_webserver(module_simulator, tmp_path_factory.mktemp("dagster-ui")) as ui:
        yield ui
