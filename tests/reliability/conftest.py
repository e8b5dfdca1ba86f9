"""Fixtures of the fault matrix: a small org, a good previous sync built once, and state comparisons.

Every row starts from the same "good previous state" (a data home and a `.c1z` from one clean
sync), copied into the test's own tmp_path, so a row can only pass if its faulty run leaves that
state exactly as it found it (or replaces it with exactly the simulator's ground truth).
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from orchestration.cli import main
from orchestration.sync_source import SyncSource
from simulator import Org, OrgSpec, XmattersSimulator
from tests.conftest import cached_org
from tests.orchestration.conftest import SyncContents, assert_sync_holds, expected_from_org, read_sync

# 40 people in pages of 15 (three /people pages, so paging faults have later pages to hit), six
# small groups, a few people visible only as members; one sync takes a few seconds.
RELIABILITY_SPEC = OrgSpec(seed=11, people=40, groups=6, members_per_group=6, hidden_people=3, large_groups=0)
PAGE_SIZE = 15
# Retries that do not make the matrix sleep: three attempts, waits of at most 50 ms.
FAST_RETRIES = ("--max-attempts", "3", "--backoff-cap", "0.05", "--page-size", str(PAGE_SIZE))
ERROR_PREFIX = "baton-xmatters: error: "
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class PublishedState:
    """Every row of every table in the published `c1` schema, sorted."""

    tables: dict[str, list[tuple[Any, ...]]]


def published_state(warehouse: Path) -> PublishedState:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        names = [
            row[0]
            for row in con.sql(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'c1' ORDER BY 1"
            ).fetchall()
        ]
        return PublishedState(
            {name: con.sql(f"SELECT * FROM c1.{name} ORDER BY ALL").fetchall() for name in names}
        )
    finally:
        con.close()


def leftovers_beside(sync_file: Path) -> list[str]:
    """Files next to the target that a sync creates temporarily (`<file>.pending`, writer temp files)."""
    return sorted(
        p.name for p in sync_file.parent.iterdir() if p.name != sync_file.name and sync_file.name in p.name
    )


def error_line(err: str) -> str:
    """The CLI's one-line cause: exactly one `baton-xmatters: error:` line, the last, no traceback."""
    lines = err.strip().splitlines()
    errors = [line for line in lines if line.startswith(ERROR_PREFIX)]
    assert len(errors) == 1, err
    assert lines[-1] == errors[0], err
    assert "Traceback" not in err, err
    return errors[0]


@dataclass
class Baseline:
    """A data home and `.c1z` holding one good sync, private to one test."""

    home: Path
    sync_file: Path
    file_bytes: bytes
    published: PublishedState
    source: SyncSource | None = None

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse.duckdb"

    def args(
        self,
        sim: XmattersSimulator | None,
        *extra: str,
        base_url: str | None = None,
        sync_file: Path | None = None,
    ) -> list[str]:
        """The CLI flags of a sync against `sim`; `base_url` and `sync_file` (-f) replace its defaults.

        Also records that URL and account as the source of the good previous sync: every test's
        simulator listens on a fresh port, but it serves the same tenant, and a warehouse refuses
        a sync of another source before anything else could go wrong.
        """
        url = base_url or (sim.base_url if sim is not None else "")
        if url:
            self.record_source(url, sim.username if sim is not None else "user")
        return [
            "--base-url",
            base_url or (sim.base_url if sim is not None else ""),
            "--username",
            sim.username if sim is not None else "user",
            "--password",
            sim.password if sim is not None else "secret",
            "-f",
            str(sync_file or self.sync_file),
            *FAST_RETRIES,
            *extra,
        ]

    def record_source(self, base_url: str, account: str) -> None:
        source = SyncSource.of(base_url, account)
        if source == self.source:  # already recorded (and the file may be in use by that sync now)
            return
        con = duckdb.connect(str(self.warehouse))
        try:
            con.execute(
                "UPDATE c1.sync_runs SET source_url = ?, source_account = ?", [source.url, source.account]
            )
        finally:
            con.close()
        self.published = published_state(self.warehouse)
        self.source = source

    def assert_unchanged(self) -> None:
        """The previous `.c1z` byte-identical, the published tables unchanged, nothing left beside it."""
        assert self.sync_file.read_bytes() == self.file_bytes
        assert published_state(self.warehouse) == self.published
        assert leftovers_beside(self.sync_file) == []

    def assert_failed_cleanly(self, code: int, err: str, *fragments: str) -> str:
        assert code == 1, err
        line = error_line(err)
        for fragment in fragments:
            assert fragment in line, line
        self.assert_unchanged()
        return line

    def assert_synced(self, code: int, err: str, expected: SyncContents) -> SyncContents:
        """Exit 0 and a `.c1z` holding exactly `expected` (the simulator's ground truth)."""
        assert code == 0, err
        contents = assert_sync_holds(self.sync_file, expected)
        assert leftovers_beside(self.sync_file) == []
        return contents


@pytest.fixture(scope="session")
def reliability_org() -> Org:
    return cached_org(RELIABILITY_SPEC)


@pytest.fixture(scope="session")
def good_state(tmp_path_factory: pytest.TempPathFactory, reliability_org: Org) -> tuple[Path, Path]:
    """One clean sync of the reliability org, built once per session: (data home, .c1z)."""
    root = tmp_path_factory.mktemp("good-state")
    home, sync_file = root / "home", root / "out" / "sync.c1z"
    with pytest.MonkeyPatch.context() as mp, XmattersSimulator(reliability_org) as sim:
        for name in list(os.environ):
            if name.startswith(("BATON_", "DAGSTER_HOME")):
                mp.delenv(name)
        mp.setenv("BATON_XMATTERS_HOME", str(home))
        argv = ["--base-url", sim.base_url, "--username", sim.username, "--password", sim.password]
        code = main([*argv, "-f", str(sync_file), "--page-size", str(PAGE_SIZE), "--log-level", "warning"])
    assert code == 0, "the good previous sync failed"
    return home, sync_file


@pytest.fixture
def baseline(
    good_state: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reliability_org: Org
) -> Baseline:
    """The good previous state copied into this test's tmp_path, with BATON_XMATTERS_HOME pointing at it."""
    home_template, file_template = good_state
    home = tmp_path / "home"
    shutil.copytree(home_template, home, symlinks=True)
    sync_file = tmp_path / "out" / "sync.c1z"
    sync_file.parent.mkdir()
    shutil.copy2(file_template, sync_file)
    monkeypatch.setenv("BATON_XMATTERS_HOME", str(home))
    state = Baseline(home, sync_file, sync_file.read_bytes(), published_state(home / "warehouse.duckdb"))
    assert read_sync(sync_file).grants == expected_from_org(reliability_org).grants
    return state


@pytest.fixture(autouse=True)
def _no_dns_beyond_loopback(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """In-process name lookups never leave the machine: anything but loopback fails like NXDOMAIN.

    The resolver here is a remote DNS server, so even a `.invalid` name would be sent to it; this
    makes the DNS-failure row resolver-free and guarantees no in-process test queries a real name.
    """
    real = socket.getaddrinfo
    asked: list[str] = []

    def loopback_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in ("127.0.0.1", "localhost", "::1"):
            asked.append(name)
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback_only)
    yield asked


def cli_command(*args: str, held: str | None = None) -> list[str]:
    """`baton-xmatters ...` as a separate process (the module form: same code as the console script);
    `held`: the same, held once that stage has begun (tests/reliability/held_stage.py)."""
    if held is not None:
        return [sys.executable, "-m", "tests.reliability.held_stage", held, *args]
    return [sys.executable, "-m", "orchestration.cli", *args]


def subprocess_env(home: Path, **extra: str) -> dict[str, str]:
    """The test process's (already isolated) environment, a data home, and no proxy for loopback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BATON_", "DAGSTER_HOME"))}
    env.update(
        BATON_XMATTERS_HOME=str(home),
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        PYTHONPATH=str(REPO_ROOT),
        **extra,
    )
    return env
