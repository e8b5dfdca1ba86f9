"""Fixtures for the xMatters source tests: a small simulated org, a running simulator, configs, reads.

The org is small but pages at a small page size: people span several pages and the large group
several member pages. Backoff is capped low so retries cost milliseconds, not seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pipelines.xmatters.config import XmattersConfig
from simulator import Faults, Org, XmattersSimulator, build_org
from tests.xmatters.helpers import PAGE_SIZE, PASSWORD, SPEC, USERNAME


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No BATON_*/dlt source settings leak in from the shell; no telemetry leaves the machine."""
    import os

    for name in list(os.environ):
        if name.startswith(("BATON_", "SOURCES__XMATTERS__")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")


@pytest.fixture(scope="session")
def xm_org() -> Org:
    org = build_org(SPEC)
    assert len(org.people) > 2 * PAGE_SIZE, "people must span several pages"
    assert max(org.member_counts().values()) > 3 * PAGE_SIZE, "a group needs several pages"
    return org


@pytest.fixture
def xm_sim(xm_org: Org) -> Iterator[XmattersSimulator]:
    with XmattersSimulator(xm_org, username=USERNAME, password=PASSWORD, faults=Faults()) as sim:
        yield sim


@pytest.fixture
def make_config(xm_sim: XmattersSimulator) -> Callable[..., XmattersConfig]:
    """A config for the running simulator; keyword arguments override fields."""

    def make(**overrides: Any) -> XmattersConfig:
        config = XmattersConfig(
            base_url=xm_sim.base_url,
            username=USERNAME,
            password=PASSWORD,
            page_size=PAGE_SIZE,
            concurrency=4,
            timeout_s=5.0,
            max_attempts=4,
            backoff_cap_s=0.05,
        )
        return replace(config, **overrides)

    return make


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"


@pytest.fixture
def pipelines_dir(tmp_path: Path) -> Path:
    return tmp_path / "dlt"
