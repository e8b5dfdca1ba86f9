"""What the sync's worker processes (GX checks, member calls) inherit from it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def child_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The parent's environment minus the connector's secrets (`BATON_*`), with this project importable.

    Proxy and CA variables stay: a child that makes requests routes and trusts like its parent.
    """
    env = {name: value for name, value in environ.items() if not name.startswith("BATON_")}
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(PROJECT_ROOT) + (os.pathsep + path if path else "")
    return env
