"""The code location `defs`: assets, checks, job, schedule, sensors and resources (orchestration/wiring.py).

Loaded by `dagster dev` (pyproject `[tool.dagster]`) and `dagster dev -w workspace.yaml`. Nothing here
reads credentials: the resource config names the variables that hold them, read by a run.
"""

from __future__ import annotations

import os

from pipelines.native_threads import with_one_blas_thread

# before wiring's imports load numpy: the code server, and the runs and workers it starts, inherit it
with_one_blas_thread(os.environ)

from orchestration.wiring import asset_owners, build_definitions, default_resources  # noqa: E402

__all__ = ["asset_owners", "build_definitions", "default_resources", "defs"]

defs = build_definitions()
