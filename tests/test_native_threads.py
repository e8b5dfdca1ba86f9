"""One OpenBLAS thread in the sync's processes (pipelines/native_threads.py): the entry and the workers."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pipelines.child_processes import PROJECT_ROOT, child_environment
from tests.worker_echo_child import ask

# the console script's path up to numpy's import (the sync's parser imports pyarrow, which loads it)
_ENTRY_THEN_THREADS = """
import os, sys
from orchestration import cli
sys.argv = ["baton-xmatters", "--help"]
try:
    cli.run()
except SystemExit:
    pass
from tests.worker_echo_child import threads_but_jemallocs
print("numpy" in sys.modules, os.environ.get("OPENBLAS_NUM_THREADS"), threads_but_jemallocs())
"""


# the code location `dagster dev` loads (its runs and workers inherit its environment)
_CODE_LOCATION_THEN_THREADS = """
import os, sys
import orchestration.definitions
from tests.worker_echo_child import threads_but_jemallocs
print("numpy" in sys.modules, os.environ.get("OPENBLAS_NUM_THREADS"), threads_but_jemallocs())
"""


def _entry(env_extra: dict[str, str], script: str = _ENTRY_THEN_THREADS) -> list[str]:
    env = {name: value for name, value in os.environ.items() if name != "OPENBLAS_NUM_THREADS"}
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**env, **env_extra},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return result.stdout.splitlines()[-1].split()


@pytest.mark.skipif(os.cpu_count() == 1, reason="OpenBLAS starts no thread of its own on one core")
def test_the_sync_entry_loads_numpy_with_no_openblas_threads():
    loaded, value, threads = _entry({})
    assert (loaded, value, threads) == ("True", "1", "1")  # the main thread alone


@pytest.mark.skipif(os.cpu_count() == 1, reason="OpenBLAS starts no thread of its own on one core")
def test_the_code_location_loads_numpy_with_no_openblas_threads():
    loaded, value, threads = _entry({}, _CODE_LOCATION_THEN_THREADS)
    assert (loaded, value, threads) == ("True", "1", "1")


@pytest.mark.skipif(os.cpu_count() == 1, reason="OpenBLAS starts no thread of its own on one core")
def test_a_users_own_openblas_setting_wins_at_the_entry_and_in_the_workers():
    loaded, value, threads = _entry({"OPENBLAS_NUM_THREADS": "2"})
    assert (loaded, value, threads) == ("True", "2", "2")
    assert child_environment({"OPENBLAS_NUM_THREADS": "2"})["OPENBLAS_NUM_THREADS"] == "2"


@pytest.mark.skipif(os.cpu_count() == 1, reason="OpenBLAS starts no thread of its own on one core")
def test_a_worker_started_from_an_environment_without_the_setting_has_no_openblas_threads(monkeypatch):
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    assert ask("threads") == {"threads": 1, "OPENBLAS_NUM_THREADS": "1"}
