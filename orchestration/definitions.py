"""The code location `defs`: assets, checks, job, schedule, sensors and resources (orchestration/wiring.py).

Loaded by `dagster dev` (pyproject `[tool.dagster]`) and `dagster dev -w workspace.yaml`. Nothing here
reads credentials: they are `EnvVar` references resolved when a run launches.
"""

from __future__ import annotations

from orchestration.wiring import asset_owners, build_definitions, default_resources

__all__ = ["asset_owners", "build_definitions", "default_resources", "defs"]

defs = build_definitions()
