"""The data directory every route keeps its state under: `BATON_XMATTERS_HOME`, default `./var`.

One derivation for the full sync (orchestration/paths.py) and the dlt-only route
(pipelines/xmatters_pipeline.py), which cannot import orchestration/, so both put the warehouse
and dlt's state in the same place for the same environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

HOME_VARIABLE = "BATON_XMATTERS_HOME"
DEFAULT_HOME = "var"


def data_home(env: Mapping[str, str]) -> Path:
    """The home `env` names, absolute: empty is unset (`export BATON_XMATTERS_HOME=`; `Path("")` is
    the working directory), and `~` is expanded (env files and quoted values reach us unexpanded)."""
    return Path(env.get(HOME_VARIABLE) or DEFAULT_HOME).expanduser().resolve()
