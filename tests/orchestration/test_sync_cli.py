"""End to end through `baton-xmatters` against the simulator: real HTTP, DuckDB, Dagster, .c1z."""

from __future__ import annotations

import contextlib
import io
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from orchestration.cli import main
from simulator import Org, XmattersSimulator
from simulator.faults import FaultRule, Faults
from tests.conftest import ISOLATED_ENV_PREFIXES
from tests.orchestration.conftest import (
    assert_sync_holds,
    expected_from_org,
    heavy_modules_imported_by,
    read_sync,
    use_simulator,
)


def sync_args(sim, sync_file: Path, *extra: str) -> list[str]:
    return [
        "--base-url",
        sim.base_url,
        "--username",
        sim.username,
        "--password",
        sim.password,
        "-f",
        str(sync_file),
        *extra,
    ]


def published(home: Path, query: str) -> list[tuple]:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return con.sql(query).fetchall()
    finally:
        con.close()


@dataclass(frozen=True)
class WatchedSync:
    """One CLI sync of the session org into a fresh home, and what was seen during and right after it.

    Several tests below are about the same plain first sync, each watching another side of it (its
    output, the history's SQLite connections, the environment and run record, the expectations
    worker): they read this one sync instead of running one each (three full syncs fewer). None of
    them writes to the home but a stock DagsterInstance, which the history test needs to check the
    schedule database; `schedules_after_the_sync` is what was there before any test opened one.
    """

    home: Path
    sync_file: Path
    code: int
    out: str
    history_connections: list[tuple[str, int, str]]  # (main file, PRAGMA synchronous, journal_mode)
    schedules_after_the_sync: bool
    environ_at_the_summary: dict[str, str]
    run_id: str
    worker_at_the_summary: Any
    password: str


@pytest.fixture(scope="module")
def watched_sync(org: Org, tmp_path_factory: pytest.TempPathFactory) -> WatchedSync:
    from sqlalchemy import event
    from sqlalchemy.pool import Pool

    from expectations import validation_worker
    from orchestration import run_outcome

    root = tmp_path_factory.mktemp("watched-sync")
    home, sync_file = root / "home", root / "out" / "sync.c1z"
    connections: list[tuple[str, int, str]] = []
    seen: dict[str, Any] = {}
    summarize = run_outcome.summarize_run

    def on_checkout(dbapi_connection, _record, _proxy) -> None:
        if isinstance(dbapi_connection, sqlite3.Connection):
            main_file = next(
                f for _, name, f in dbapi_connection.execute("PRAGMA database_list") if name == "main"
            )
            synchronous = dbapi_connection.execute("PRAGMA synchronous").fetchone()[0]
            journal = dbapi_connection.execute("PRAGMA journal_mode").fetchone()[0]
            connections.append((main_file, synchronous, journal))

    def spy(result):
        seen["environ"] = dict(os.environ)
        seen["run_id"] = result.run_id
        seen["worker"] = validation_worker._shared
        return summarize(result)

    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, XmattersSimulator(org) as simulator:
        # what the function-scoped `_isolate_env` and `data_home` do, for a module-scoped sync
        for name in list(os.environ):
            if name.startswith(ISOLATED_ENV_PREFIXES):
                mp.delenv(name)
        mp.setenv("BATON_XMATTERS_HOME", str(home))
        mp.setattr(run_outcome, "summarize_run", spy)
        event.listen(Pool, "checkout", on_checkout)
        try:
            with contextlib.redirect_stdout(out):
                code = main(sync_args(simulator, sync_file))
        finally:
            event.remove(Pool, "checkout", on_checkout)
        password = simulator.password
    return WatchedSync(
        home=home,
        sync_file=sync_file,
        code=code,
        out=out.getvalue(),
        history_connections=connections,
        schedules_after_the_sync=(home / "dagster" / "schedules").exists(),
        environ_at_the_summary=seen["environ"],
        run_id=seen["run_id"],
        worker_at_the_summary=seen["worker"],
        password=password,
    )


def test_sync_writes_exactly_what_the_simulator_holds(watched_sync: WatchedSync, org):
    sync_file, data_home = watched_sync.sync_file, watched_sync.home
    assert watched_sync.code == 0
    out = watched_sync.out

    expected = expected_from_org(org)
    contents = assert_sync_holds(sync_file, expected)
    assert contents.stats["grants"] == len(expected.grants)
    assert f"grants         {len(expected.grants)}" in out
    assert f"({len(org.hidden_people)} not visible to the connector account)" in out
    assert str(sync_file) in out

    (users,) = published(data_home, "SELECT count(*) FROM c1.users")
    assert users[0] == len(expected.users)
    member_rows = published(data_home, "SELECT count(*) FROM c1.memberships")[0][0]
    assert member_rows == org.membership_rows()
    assert published(data_home, "SELECT count(*) FROM c1.sync_runs")[0][0] == 1


def test_the_sync_history_commits_without_disk_waits_and_opens_no_schedules(watched_sync: WatchedSync):
    """Every SQLite connection to the Dagster home during a CLI sync commits in WAL mode with
    synchronous=NORMAL (orchestration/history_commits.py: ~160-470 fdatasyncs fewer per sync), and
    the schedule database, which a sync never reads, is not opened (orchestration/deferred_schedules.py);
    the run is still a real run in the history the UI reads."""
    assert watched_sync.code == 0
    seen = watched_sync.history_connections
    home = watched_sync.home / "dagster"
    history = {Path(f).name for f, _, _ in seen if f.startswith(str(home))}
    assert history == {"runs.db", "event_log.db"}
    assert {(s, j) for f, s, j in seen if f.startswith(str(home))} == {(1, "wal")}  # NORMAL, WAL
    assert not watched_sync.schedules_after_the_sync
    with dg.DagsterInstance.from_config(str(home)) as stock:
        (run,) = stock.get_runs()
        assert run.is_success and stock.all_logs(run.run_id)
        assert stock.all_instigator_state() == []  # the UI's instance creates the schedule file itself
    assert (home / "schedules" / "schedules.db").is_file()


def test_bad_base_url_is_refused_before_any_request(simulator, data_home, tmp_path, capsys):
    bad = simulator.base_url.replace("/api/xm/1", "/api/v2")
    code = main(["--base-url", bad, "--username", "u", "--password", "p", "-f", str(tmp_path / "s.c1z")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert "--base-url" in err and "/api/xm/1" in err
    assert simulator.request_count == 0
    assert not (tmp_path / "s.c1z").exists()


def test_missing_password_is_named(simulator, data_home, tmp_path, capsys):
    code = main(["--base-url", simulator.base_url, "--username", "u", "-f", str(tmp_path / "s.c1z")])
    assert code == 2
    expected = "missing --password (or BATON_PASSWORD, --password-file, BATON_PASSWORD_FILE)"
    assert expected in capsys.readouterr().err


def test_env_variables_work_like_flags(simulator, org, data_home, tmp_path, monkeypatch):
    use_simulator(monkeypatch, simulator)
    sync_file = tmp_path / "env.c1z"
    assert main(["-f", str(sync_file)]) == 0
    assert read_sync(sync_file).groups == {g["id"] for g in org.groups}


def test_auth_failure_leaves_previous_sync_and_tables(synced_once, data_home, tmp_path, capsys):
    simulator, sync_file = synced_once, tmp_path / "sync.c1z"  # the previous sync
    before = sync_file.read_bytes()
    users_before = published(data_home, "SELECT * FROM c1.users ORDER BY user_id")
    capsys.readouterr()

    args = sync_args(simulator, sync_file)
    args[args.index("--password") + 1] = "wrong-secret"
    assert main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("baton-xmatters: error:")
    # /groups is read first (the member calls wait for it), so its failure is the one named
    assert "401" in err and "/groups?" in err
    assert "wrong-secret" not in err
    assert sync_file.read_bytes() == before
    assert published(data_home, "SELECT * FROM c1.users ORDER BY user_id") == users_before


def test_a_failed_first_sync_leaves_no_warehouse(simulator, data_home, tmp_path, capsys):
    """A first sync refused with HTTP 401 left a 12 KB warehouse without a table: `sql` then
    answered `Catalog Error: ... schema "c1" does not exist` from an empty database that looked
    like the real one. Now nothing is left that looks like data, and `sql` says to run a sync."""
    warehouse = data_home / "warehouse.duckdb"
    args = sync_args(simulator, tmp_path / "sync.c1z")
    args[args.index("--password") + 1] = "wrong-secret"
    assert main(args) == 1
    assert "HTTP 401" in capsys.readouterr().err
    assert not warehouse.exists() and not warehouse.with_name("warehouse.duckdb.wal").exists()
    assert not (tmp_path / "sync.c1z").exists()
    assert main(["sql", "SELECT count(*) FROM c1.users"]) == 2
    assert capsys.readouterr().err == (
        f"baton-xmatters: error: no warehouse at {warehouse} (run a sync first, or give --warehouse)\n"
    )


def test_sync_survives_throttling_errors_and_paging_quirks(make_simulator, org, data_home, tmp_path, capsys):
    faults = Faults().add(
        FaultRule("status", path_contains="/people", status=429, retry_after=0, times=2),
        FaultRule("status", path_contains="/members", status=503, times=3),
        FaultRule("status", path_contains="/groups?", status=502, times=1),
        FaultRule("repeat_row", path_contains="/members", times=1),
        FaultRule("total_first_page_only", times=None),
    )
    sim = make_simulator(faults=faults)
    sync_file = tmp_path / "sync.c1z"
    assert main(sync_args(sim, sync_file)) == 0
    assert_sync_holds(sync_file, expected_from_org(org))
    throttled, unavailable, bad_gateway, repeated, totals = (r.fired for r in sim.faults.rules)
    assert (throttled, unavailable, bad_gateway) == (2, 3, 1)
    # the large group's member pages at offsets 1000 and 2000 (one fault per request)
    assert (repeated, totals) == (1, 1)
    # a page without `total`: the listing's change check is off, said once (paging.py)
    err = capsys.readouterr().err
    assert err.count("has no 'total' (xMatters documents one on every list page)") == 1, err


def test_group_deleted_mid_sync_is_kept_without_members_with_a_warning(
    make_simulator, org, data_home, tmp_path, capsys
):
    """The group stays (its resource and entitlement), without grants: every place that tells of it
    says so in the same words. Before, the summary and the Dagster log said "skipped" and the
    extract's log "kept without members", for the same group."""
    victim = next(
        g for g in org.groups if any(m["member"]["recipientType"] == "PERSON" for m in org.members[g["id"]])
    )
    sim = make_simulator(faults=Faults(deleted_groups={victim["id"]}))
    sync_file = tmp_path / "sync.c1z"
    assert main(sync_args(sim, sync_file)) == 0
    out, err = capsys.readouterr()
    said = f"group {victim['targetName']} ({victim['id']}) kept without members (deleted during the sync): "
    assert f"warning        {said}xmatters: HTTP 404 from " in out
    told = [line for line in err.splitlines() if victim["id"] in line]
    assert told and all(said in line for line in told), told
    assert "skipped" not in out + err
    with dg.DagsterInstance.from_config(str(data_home / "dagster")) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(["xmatters_raw", "group_members"]))
        assert event is not None and event.asset_materialization is not None
        metadata = event.asset_materialization.metadata
    [kept] = metadata["groups_kept_without_members"].value
    assert (kept["group_id"], kept["name"]) == (victim["id"], victim["targetName"])
    assert "skipped_groups" not in metadata

    contents = read_sync(sync_file)
    expected = expected_from_org(org)
    lost = {g for g in expected.grants if g.startswith(f"group:{victim['id']}:member:")}
    assert lost
    assert contents.grants == expected.grants - lost
    assert victim["id"] in contents.groups
    assert f"group:{victim['id']}:member" in contents.entitlements


def test_a_long_group_deleted_while_its_pages_are_read_has_no_memberships(
    make_simulator, org, data_home, tmp_path, capsys
):
    """The large group (2,500 members) answers 404 after two pages of 1,000: the member-call process
    had handed those 2,000 rows on (`member_calls.HELD_MEMBER_ITEMS`), and the raw step removes
    them after the load, so the group has no memberships in the warehouse or the `.c1z`, as a group
    deleted before its call."""
    victim = max(org.groups, key=lambda group: len(org.members[group["id"]]))
    assert len(org.members[victim["id"]]) > 2_000
    rule = FaultRule("status", status=404, path_contains=f"{victim['id']}/members", after=2, times=None)
    sim = make_simulator(faults=Faults(rules=[rule]))
    sync_file = tmp_path / "sync.c1z"
    assert main(sync_args(sim, sync_file)) == 0
    assert f"warning        group {victim['targetName']} ({victim['id']}) kept without members" in (
        capsys.readouterr().out
    )

    contents = read_sync(sync_file)
    expected = expected_from_org(org)
    lost = {g for g in expected.grants if g.startswith(f"group:{victim['id']}:member:")}
    assert len(lost) > 2_000 and contents.grants == expected.grants - lost
    assert published(
        data_home, f"SELECT count(*) FROM xmatters_raw.group_members WHERE group_id = '{victim['id']}'"
    ) == [(0,)]


def test_the_sync_process_never_imports_pandas(simulator, data_home, tmp_path):
    """pandas (~0.5 s of the GIL, ~60 MB) is for the expectations worker only; see pipelines/arrow_arrays.py.

    Two syncs in a row, so the second also takes the history and access-changes paths. Nor does it
    import the code location (`orchestration.definitions`): its module-level `defs` would build the
    definitions a second time, beside the CLI's own build (orchestration/wiring.py).
    """
    script = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('pandas imported:', 'pandas' in sys.modules,\n"
        "    'code location imported:', 'orchestration.definitions' in sys.modules))\n"
        "from orchestration.cli import main\n"
        "code = main(sys.argv[1:])\n"
        "print('exit code:', code)\n"
    )
    sync_file = tmp_path / "out" / "sync.c1z"
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", script, *sync_args(simulator, sync_file)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.stdout.splitlines()[-2:] == [
            "exit code: 0",
            "pandas imported: False code location imported: False",
        ], done.stderr[-2000:]
    assert published(data_home, "SELECT count(*) FROM c1.sync_runs")[0][0] == 2


def test_the_flags_are_read_without_importing_dlt_or_dagster():
    """The expectations worker starts once the flags are valid: GX imports on the other core
    while this process imports dlt and Dagster (~3 s), not after them."""
    assert heavy_modules_imported_by("orchestration.sync_command") == []


def test_credentials_reach_the_run_in_memory_only(watched_sync: WatchedSync):
    """Not in this process's environment during the run (which children and Dagster would see), not
    in the run config, not in the job snapshot Dagster stores with the run (shown in the UI)."""
    from dagster import DagsterInstance
    from dagster._serdes import serialize_value

    assert watched_sync.code == 0
    data_home, password = watched_sync.home, watched_sync.password
    environ = watched_sync.environ_at_the_summary
    assert not any(password in value for value in environ.values())
    assert not any(name.startswith("BATON_") and name != "BATON_XMATTERS_HOME" for name in environ)
    instance = DagsterInstance.from_config(str(data_home / "dagster"))
    try:
        run = instance.get_run_by_id(watched_sync.run_id)
        stored = serialize_value(run) + serialize_value(instance.get_job_snapshot(run.job_snapshot_id))
        stored += "".join(serialize_value(event) for event in instance.all_logs(run.run_id))
    finally:
        instance.dispose()
    assert str(data_home / "warehouse.duckdb") in stored  # resource config is where the search looks
    assert password not in stored


def test_the_cli_run_stops_the_expectations_worker_once_the_checks_ran(watched_sync: WatchedSync):
    """One sync per CLI process: its ExpectationsResource frees the worker's memory before the write."""
    assert watched_sync.code == 0
    assert watched_sync.worker_at_the_summary is None
