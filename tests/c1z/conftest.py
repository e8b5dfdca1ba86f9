"""Shared fixtures: baton-sdk's own `.c1z` files live in `<repo root>/../shared/interop/baton-sdk`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.shared_dir import SHARED

SAMPLES = SHARED / "interop" / "baton-sdk"
UNEXPANDED = SAMPLES / "sync.36zfOAoWMxQdISbixanQCRBiX7E.unexpanded.c1z"
EXPANDED = SAMPLES / "sync.36zfOAoWMxQdISbixanQCRBiX7E.expanded.c1z"
IN_PROGRESS = SAMPLES / "sync-in-progress.c1z"


@pytest.fixture(scope="session")
def samples() -> Path:
    if not UNEXPANDED.is_file():
        pytest.fail(f"baton-sdk sample files missing at {SAMPLES.resolve()}")
    return SAMPLES
