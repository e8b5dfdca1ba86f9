"""One blocking check of a staged table: its spec and how it is evaluated.

The checks of one table run together in one Dagster step (`orchestration/checks/per_table.py`);
each keeps its own name, description, result and metadata, so the UI and the run's events show
every check as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import dagster as dg
import duckdb

from orchestration.resources import ExpectationsResource, SyncSettings, WarehouseResource, XmattersResource


@dataclass(frozen=True)
class CheckResources:
    """The resources any check of a table may read."""

    warehouse: WarehouseResource
    expectations: ExpectationsResource
    sync_settings: SyncSettings
    xmatters: XmattersResource
    # the run's tags when it started: messages name settings as the run took them (flags or config)
    run_tags: Mapping[str, str] = field(default_factory=dict)


Evaluate = Callable[[duckdb.DuckDBPyConnection, CheckResources], dg.AssetCheckResult]


@dataclass(frozen=True)
class TableCheck:
    """A check: `evaluate` gets a cursor of its own on the run's warehouse connection."""

    spec: dg.AssetCheckSpec
    evaluate: Evaluate
    # waits on the expectations worker process: runs on a thread beside the table's SQL checks
    in_worker: bool = False
    # the staged tables it reads besides its own (a cross-table rule's)
    also_reads: tuple[dg.AssetKey, ...] = ()

    def reads(self) -> tuple[dg.AssetKey, ...]:
        """The staged tables the check reads: its asset's first."""
        return (self.spec.asset_key, *self.also_reads)
