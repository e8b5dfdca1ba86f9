"""The sync run's `started_at` in the `.c1z` is when the extract began, not when the file was written.

C1 reads it as the moment the data describes: access read over minutes must not look fresher than it is.
"""

from __future__ import annotations

from datetime import UTC, datetime

from orchestration.cli import main
from pipelines.c1z.reader import open_c1z
from simulator import Faults
from tests.orchestration.test_sync_cli import sync_args

LATENCY_S = 0.4  # per request; the extract makes a few rounds of them one after the other


def test_started_at_is_when_the_extract_began(make_simulator, data_home, tmp_path):
    sync_file = tmp_path / "sync.c1z"
    before = datetime.now(UTC)
    assert main(sync_args(make_simulator(faults=Faults(latency_s=LATENCY_S)), sync_file)) == 0
    with open_c1z(sync_file) as reader:
        (run,) = reader.syncs()
    # /groups, then the large group's three member pages one after the other: >= 4 latencies of extract
    assert before <= run["started_at"]
    assert (run["ended_at"] - run["started_at"]).total_seconds() >= 3 * LATENCY_S
