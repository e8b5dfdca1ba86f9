"""Runs a suite over a DataFrame in an ephemeral GX context and returns plain evidence.

GX's SQL datasource does not work against DuckDB today (stack notes), so the tables are validated
as in-memory DataFrames. One context per process: importing GX and creating it is the slow part,
so `prepare` does it ahead of time; the sync runs this module in a worker process of its own
(`worker.py`), which prepares while the extract runs.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from functools import cache
from typing import Any

import pandas as pd

from expectations import entitlements, grants, groups, users
from expectations.outcome import MAX_EXAMPLES, ExpectationFailure, SuiteOutcome

SUITES: dict[str, Callable[[], Any]] = {
    "users": users.build_suite,
    "groups": groups.build_suite,
    "entitlements": entitlements.build_suite,
    "grants": grants.build_suite,
}


@cache
def _context() -> Any:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    _skip_batch_fingerprints()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def _skip_batch_fingerprints() -> None:
    """Stop GX hashing every DataFrame under 1 GB into a `pandas_data_fingerprint` batch marker.

    The marker only names the batch in stored results, and our context is ephemeral: nothing
    reads it. Computing it turned a million grants' string columns into Python objects: ~240 MB
    and ~0.6 s of the grants check, the largest part of the L sync's memory peak. GX offers no
    switch, so its threshold (`HASH_THRESHOLD`, bytes) goes to 0; a GX without it is left as is
    (tests/expectations pin that the fingerprint is skipped).
    """
    from great_expectations.execution_engine import pandas_execution_engine

    if hasattr(pandas_execution_engine, "HASH_THRESHOLD"):
        pandas_execution_engine.HASH_THRESHOLD = 0


_validation_lock = threading.Lock()  # two threads asking at once must not register a suite twice


def prepare() -> None:
    """Imports GX and registers every suite's validation, so the first check starts at once."""
    for table in SUITES:
        _validation(table)


def columns_read(expectation: Any) -> frozenset[str]:
    """The columns one expectation reads (`column`, or `column_list` of a multi-column one)."""
    names = [getattr(expectation, "column", None), *(getattr(expectation, "column_list", None) or [])]
    return frozenset(name for name in names if name)


def _validation(table: str, columns: frozenset[str] | None = None) -> Any:
    """The validation of `table`'s suite, or of those of its expectations that read only `columns`."""
    with _validation_lock:  # `cache` alone could register the same suite twice from two threads
        return _add_validation(table, columns)


@cache
def _add_validation(table: str, columns: frozenset[str] | None) -> Any:
    import great_expectations as gx

    context = _context()
    if columns is None:
        name, suite = table, SUITES[table]()
    else:  # a new suite of copies of the registered suite's expectations that read only `columns`
        whole = _add_validation(table, None).suite.expectations
        kept = [e for e in whole if columns_read(e) <= columns]
        if len(kept) == len(whole):
            return _add_validation(table, None)  # the whole suite: one registration
        if not kept:
            raise ValueError(f"no expectation of the {table} suite reads only {sorted(columns)}")
        name = f"{table}__{'__'.join(sorted(columns))}"
        suite = gx.ExpectationSuite(
            name=f"c1_{name}", expectations=[e.configuration.to_json_dict() for e in kept]
        )
    source = context.data_sources.add_pandas(name=f"c1_{name}")
    asset = source.add_dataframe_asset(name=name)
    batch = asset.add_batch_definition_whole_dataframe(name=f"{name}_whole")
    suite = context.suites.add(suite)
    return context.validation_definitions.add(
        gx.ValidationDefinition(name=f"validate_{name}", data=batch, suite=suite)
    )


def validate(table: str, frame: pd.DataFrame) -> SuiteOutcome:
    """Validates `frame` against the expectations of the `c1` table `table`'s suite that read only
    its columns: all of them when it holds every column the suite reads.

    A large table can so be validated in column groups, one frame each (`SUITE_COLUMNS` of
    orchestration/checks/expectation_checks.py): GX copies the whole frame to filter the rows an
    expectation looks at, so a million grants' four columns took ~330 MB of GX working memory at
    once above the frame; one column group of them, ~180 MB, and the check's hash partitions of it
    a quarter of that (docs/benchmarks.md, tenth round).
    """
    validation = _validation(table, frozenset(str(column) for column in frame.columns))
    result = validation.run(batch_parameters={"dataframe": frame}, result_format="SUMMARY")
    failures = []
    for item in result.results:
        if item.success:
            continue
        config = item.expectation_config
        kwargs = config.kwargs
        column = kwargs.get("column") or ",".join(kwargs.get("column_list", []))
        details = item.result or {}
        failures.append(
            ExpectationFailure(
                expectation=config.type,
                column=column,
                unexpected_count=int(details.get("unexpected_count") or 0),
                examples=[_plain(v) for v in (details.get("partial_unexpected_list") or [])[:MAX_EXAMPLES]],
            )
        )
    return SuiteOutcome(
        suite=table,
        success=bool(result.success),
        evaluated=len(result.results),
        failures=failures,
    )


def _plain(value: Any) -> Any:
    """A JSON-safe example: pandas shows a missing value as NaN (not JSON, and never equal to itself)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value if isinstance(value, str | int | float | bool) else str(value)
