"""One chunk of the frame stack (pipelines/frame_stack.py): calls at a chunk's edge fault no pages."""

from __future__ import annotations

import os
import subprocess
import sys

from pipelines.child_processes import PROJECT_ROOT
from tests.worker_echo_child import ask

# calls at every depth from 0 to 400 frames: some depth puts the callee across a 16 KiB chunk's edge
_FAULTS_OF_CALLS = """
import resource, sys
from pipelines.frame_stack import on_one_chunk

def leaf():
    return 1

def down(depth):
    if depth:
        return down(depth - 1)
    for _ in range(50):
        leaf()

def calls():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for depth in range(400):
        down(depth)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

print(on_one_chunk(calls) if sys.argv[1] == "on_one_chunk" else calls())
"""

_CLI_RUN_PROBED = """
from orchestration import cli
from tests.worker_echo_child import reserving_frame_below

def probe():
    print(reserving_frame_below())
    return 0

cli.main = probe
cli.run()
"""


def _python(script: str, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", script, *args], env=env, capture_output=True, text=True, check=True, timeout=60
    )
    return result.stdout.strip()


def test_calls_across_a_chunks_edge_fault_pages_and_on_one_chunk_they_do_not():
    plain = int(_python(_FAULTS_OF_CALLS, "plain"))
    on_one_chunk = int(_python(_FAULTS_OF_CALLS, "on_one_chunk"))
    assert plain > 1_000  # ~1,300: the edge's chunk mapped and faulted in at each of ~50 calls a depth
    assert on_one_chunk < 100  # ~10


def test_the_sync_entry_runs_on_one_chunk():
    assert _python(_CLI_RUN_PROBED) == "True"


def test_the_workers_run_their_module_on_one_chunk():
    assert ask("on_one_chunk") == {"on_one_chunk": True}
