"""Helpers for end-to-end syncs: an isolated data home per test and the .c1z read back like baton."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from pipelines.c1z.reader import open_c1z
from simulator import Faults, Org, XmattersSimulator
from tests.conftest import ISOLATED_ENV_PREFIXES


@dataclass(frozen=True)
class SyncContents:
    users: set[str]
    groups: set[str]
    entitlements: set[str]
    grants: set[str]
    stats: dict


def read_sync(path: Path) -> SyncContents:
    with open_c1z(path) as reader:
        return SyncContents(
            users={r.id.resource for r in reader.resources("user")},
            groups={r.id.resource for r in reader.resources("group")},
            entitlements={e.id for e in reader.entitlements()},
            grants={g.id for g in reader.grants()},
            stats=reader.stats(),
        )


def raw_rows(warehouse: Path) -> dict[str, list[tuple[str, ...]]]:
    """The ids of the raw tables' rows, duplicates kept: people, groups and PERSON members."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return {
            "people": con.sql("SELECT id FROM xmatters_raw.people ORDER BY ALL").fetchall(),
            "groups": con.sql("SELECT id FROM xmatters_raw.groups ORDER BY ALL").fetchall(),
            "members": con.sql(
                "SELECT group_id, member__id FROM xmatters_raw.group_members "
                "WHERE member__recipient_type = 'PERSON' ORDER BY ALL"
            ).fetchall(),
            "all_members": con.sql("SELECT count(*) FROM xmatters_raw.group_members").fetchall(),
        }
    finally:
        con.close()


def expected_from_org(org) -> SyncContents:
    """What the simulator's ground truth implies the sync must hold."""
    people = {p["id"] for p in org.people}
    hidden = {p["id"] for p in org.hidden_people}
    groups = {g["id"] for g in org.groups}
    grants = {f"group:{gid}:member:user:{pid}" for gid, pid in org.person_memberships()}
    return SyncContents(
        users=people | hidden,
        groups=groups,
        entitlements={f"group:{gid}:member" for gid in groups},
        grants=grants,
        stats={},
    )


def assert_sync_holds(path: Path, expected: SyncContents) -> SyncContents:
    """The .c1z at `path` holds exactly `expected`'s users, groups, entitlements and grants."""
    contents = read_sync(path)
    assert contents.users == expected.users
    assert contents.groups == expected.groups
    assert contents.entitlements == expected.entitlements
    assert contents.grants == expected.grants
    return contents


HEAVY_MODULES = ("dlt", "dagster", "great_expectations", "pandas")


def heavy_modules_imported_by(module: str) -> list[str]:
    """Which of the slow-to-import libraries importing `module` loads, in a fresh interpreter."""
    script = f"import sys\nimport {module}\nprint(*(m for m in {HEAVY_MODULES!r} if m in sys.modules))\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return done.stdout.split()


def use_simulator(monkeypatch, simulator) -> None:
    """Point the sync at the test's simulator the way a UI run gets it: BATON_* in its environment."""
    monkeypatch.setenv("BATON_BASE_URL", simulator.base_url)
    monkeypatch.setenv("BATON_USERNAME", simulator.username)
    monkeypatch.setenv("BATON_PASSWORD", simulator.password)


def job_on_a_new_warehouse(tmp_path: Path, monkeypatch):
    """The sync's asset job on a warehouse file not created yet, with an xMatters nobody answers at:
    for assets and checks run alone, before anything they read exists. Returns (job, warehouse)."""
    from orchestration.definitions import build_definitions
    from orchestration.resources import SyncSettings, WarehouseResource

    for name, value in (("BASE_URL", "http://127.0.0.1:9/api/xm/1"), ("USERNAME", "u"), ("PASSWORD", "p")):
        monkeypatch.setenv(f"BATON_{name}", value)
    warehouse = tmp_path / "warehouse.duckdb"
    resources = {
        "warehouse": WarehouseResource(database=str(warehouse), dlt_pipelines_dir=str(tmp_path / "dlt")),
        "sync_settings": SyncSettings(sync_file=str(tmp_path / "sync.c1z")),
    }
    return build_definitions(resources).resolve_implicit_global_asset_job_def(), warehouse


def empty_history_warehouse(database: str = ":memory:") -> duckdb.DuckDBPyConnection:
    """A warehouse (in memory unless `database` names a file) with the change-history tables as a
    sync creates them, empty."""
    from orchestration import history, sql
    from orchestration.publish import migrate_sync_runs

    con = duckdb.connect(database)
    con.execute("CREATE SCHEMA c1")
    for statement in sql.load("history_snapshot").split(";"):
        if statement.strip():
            con.execute(statement)
    migrate_sync_runs(con)
    history.ensure_changes_table(con)
    return con


@pytest.fixture
def data_home(tmp_path, monkeypatch) -> Path:
    """A fresh BATON_XMATTERS_HOME (warehouse, dlt state, Dagster home) for one test."""
    home = tmp_path / "home"
    monkeypatch.setenv("BATON_XMATTERS_HOME", str(home))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    for name in ("BATON_BASE_URL", "BATON_USERNAME", "BATON_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture(scope="module")
def module_simulator(org: Org) -> Iterator[XmattersSimulator]:
    """A simulator of the session `org` for a whole module: the tenant of `first_sync_home`."""
    with XmattersSimulator(org) as sim:
        yield sim


@pytest.fixture(scope="module")
def first_sync_home(module_simulator: XmattersSimulator, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding `home/` (a data home) and `sync.c1z` after one plain CLI sync of
    `module_simulator`, made once per module: `synced_once` copies it for each test."""
    from orchestration.cli import main

    root = tmp_path_factory.mktemp("first-sync")
    sim = module_simulator
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):  # what the function-scoped `_isolate_env` does
            if name.startswith(ISOLATED_ENV_PREFIXES):
                mp.delenv(name)
        mp.setenv("BATON_XMATTERS_HOME", str(root / "home"))
        flags = ["--base-url", sim.base_url, "--username", sim.username, "--password", sim.password]
        code = main([*flags, "-f", str(root / "sync.c1z")])
    assert code == 0, "the module's first sync failed"
    return root


@pytest.fixture
def synced_once(
    first_sync_home: Path, module_simulator: XmattersSimulator, org: Org, data_home: Path, tmp_path: Path
) -> Iterator[XmattersSimulator]:
    """`data_home` and `tmp_path / "sync.c1z"` as one plain first sync of the session org left them
    (a copy of `first_sync_home`, as tests/reliability's `baseline` copies its good state: a sync
    less per test), and the simulator that sync read, serving `org` without faults again for each
    test (a home holds one source: its later syncs must read that simulator's URL)."""
    shutil.copytree(first_sync_home / "home", data_home, symlinks=True)
    shutil.copy2(first_sync_home / "sync.c1z", tmp_path / "sync.c1z")
    module_simulator.faults = Faults()
    module_simulator.serve(org)
    yield module_simulator
    module_simulator.faults = Faults()
    module_simulator.serve(org)
