"""Where a sync keeps its state, so the CLI, `dagster dev` and the schedule share one warehouse.

Everything lives under one data directory (`BATON_XMATTERS_HOME`, default `./var`): the DuckDB
warehouse, dlt's pipeline state and the Dagster home (run history). The sync file defaults to
`sync.c1z` in the working directory, as baton connectors do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pipelines.data_home import data_home

DEFAULT_SYNC_FILE = "sync.c1z"


@dataclass(frozen=True)
class DataPaths:
    home: Path

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def dlt_pipelines(self) -> Path:
        return self.home / "dlt"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"


def user_path(value: str) -> Path:
    """A path as a user gave it: `~` expanded (env files and quoted flags reach us unexpanded; a
    literal `./~` directory was created), made absolute."""
    return Path(value).expanduser().resolve()


def data_paths(env: os._Environ[str] | dict[str, str] | None = None) -> DataPaths:
    return DataPaths(data_home(os.environ if env is None else env))


def default_sync_file(env: os._Environ[str] | dict[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return user_path(env.get("BATON_FILE") or DEFAULT_SYNC_FILE)
