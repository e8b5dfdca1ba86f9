"""bench/ is a scripts folder, not a package: its tests load a script by path."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"


def load_script(name: str, module_name: str) -> ModuleType:
    """`bench/<name>` as the module `module_name`, registered in sys.modules (dataclasses resolve
    their annotations through it)."""
    spec = importlib.util.spec_from_file_location(module_name, BENCH_DIR / name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
