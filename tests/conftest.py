"""Shared fixtures: a small simulated xMatters org, a running simulator, and an isolated environment.

Subfolders add their own fixtures in their own conftest.py.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from simulator import Faults, Org, OrgSpec, XmattersSimulator, build_org

ISOLATED_ENV_PREFIXES = ("BATON_", "DESTINATION__", "SOURCES__", "RUNTIME__", "DAGSTER_HOME")

# ~120 people (two pages at the default limit), 15 groups of every type and status, a few hidden people,
# and one group of 2,500 members (three member pages at limit 1000; filled up with out-of-scope people).
SMALL_ORG_SPEC = OrgSpec(
    seed=7,
    people=120,
    groups=15,
    members_per_group=8,
    inactive_share=0.15,
    hidden_people=4,
    large_groups=1,
    large_group_size=2500,
)


@functools.lru_cache(maxsize=8)
def cached_org(spec: OrgSpec) -> Org:
    """Orgs are immutable and deterministic: build each spec once per test session."""
    return build_org(spec)


@pytest.fixture(autouse=True)
def _isolate_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings from the developer's shell (BATON_*, dlt sections, DAGSTER_HOME) never leak into tests."""
    for name in list(os.environ):
        if name.startswith(ISOLATED_ENV_PREFIXES):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def _forget_credentials() -> Iterator[None]:
    """Each test redacts only its own passwords: one test's "secret" must not mangle the next's
    messages (a sync process has one credential; the test process has hundreds)."""
    yield
    from pipelines.xmatters.scrub import forget_credentials

    forget_credentials()


@pytest.fixture(autouse=True)
def _release_cli_log_handlers() -> Iterator[None]:
    """`main()` run in-process points the CLI's loggers at this test's captured stderr; unhook them,
    so no later log line (the next test's simulator starting, a `.c1z` written by a fixture) goes to
    a stream pytest has closed or to the next test's captured stderr."""
    yield
    for name in ("baton_xmatters", "pipelines", "simulator"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
        logger.setLevel(logging.NOTSET)


@pytest.fixture(scope="session")
def org_spec() -> OrgSpec:
    return SMALL_ORG_SPEC


@pytest.fixture(scope="session")
def org(org_spec: OrgSpec) -> Org:
    return cached_org(org_spec)


@pytest.fixture
def simulator(org: Org) -> Iterator[XmattersSimulator]:
    """A running simulator of `org` with default credentials and no faults."""
    with XmattersSimulator(org) as sim:
        yield sim


@pytest.fixture
def make_simulator(org: Org) -> Iterator[Callable[..., XmattersSimulator]]:
    """Start simulators of another org and/or with faults: `make_simulator(spec=None, faults=None, **kw)`.

    `spec=None` serves the session `org`; other keyword arguments go to `XmattersSimulator`.
    Every simulator started here is stopped at teardown.
    """
    started: list[XmattersSimulator] = []

    def make(spec: OrgSpec | None = None, faults: Faults | None = None, **kwargs: Any) -> XmattersSimulator:
        served = org if spec is None else cached_org(spec)
        sim = XmattersSimulator(served, faults=faults, **kwargs).start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()
