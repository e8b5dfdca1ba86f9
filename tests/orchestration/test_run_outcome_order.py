"""The CLI's error line is the run's first failure, a failed step or a failed check, whichever came
first.

A hostile server sent a person whose name was 50 MB: the `c1_staging/users` step failed (DuckDB
out of memory), and `grants` (which does not read `users`) ran on; its check
`grant_principals_exist` then read the previous sync's `users` table and failed, and the sync ended
with `data-quality check grant_principals_exist on c1_staging/grants failed: 10 violating rows`,
hiding the cause. A small real Dagster job of the same shape: `memberships` and `users` on one
level (`users` failing), `grants` below `memberships` with a failing blocking check.
"""

from __future__ import annotations

import dagster as dg

from orchestration.run_outcome import summarize_run

CAUSE = "Out of Memory Error: failed to allocate data of size 512.0 MiB (180.2 MiB/244.1 MiB used)"


@dg.asset
def raw() -> None:
    return None


@dg.asset(deps=[raw])
def users() -> None:
    raise RuntimeError(f"{CAUSE}\n\nPossible solutions: ...")


@dg.asset(deps=[raw])
def memberships() -> None:
    return None


@dg.asset(
    deps=[memberships],
    check_specs=[dg.AssetCheckSpec("grant_principals_exist", asset="grants", blocking=True)],
)
def grants():
    yield dg.Output(None)
    yield dg.AssetCheckResult(
        check_name="grant_principals_exist", passed=False, description="10 violating rows"
    )


def _run(*assets: dg.AssetsDefinition) -> dg.ExecuteInProcessResult:
    return dg.materialize(list(assets), raise_on_error=False)


def test_a_failed_step_before_a_failed_check_is_the_error():
    outcome = summarize_run(_run(raw, users, memberships, grants))
    assert not outcome.success
    assert outcome.error == CAUSE


def test_a_failed_check_alone_is_still_the_error():
    outcome = summarize_run(_run(raw, memberships, grants))
    assert not outcome.success
    assert outcome.error == (
        "data-quality check grant_principals_exist on grants failed: 10 violating rows; nothing was published"
    )


@dg.asset(deps=[raw])
def staged_users() -> None:
    import duckdb

    con = duckdb.connect()
    con.execute("SET memory_limit = '2MB'")
    con.execute("SELECT range, repeat('x', 100) FROM range(2000000) ORDER BY random()").fetchall()


def test_a_duckdb_error_names_the_step_it_stopped():
    """DuckDB's `Out of Memory Error: could not allocate block ...` named no step: which transform
    ran out (a sort of rows of huge names) was left to guess."""
    outcome = summarize_run(_run(raw, staged_users))
    assert not outcome.success
    assert outcome.error is not None
    assert outcome.error.startswith("staged_users failed in DuckDB: Out of Memory Error: "), outcome.error
    assert "\n" not in outcome.error
