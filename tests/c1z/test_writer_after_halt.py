"""The `.c1z` writer in a process that an interrupt halted (`pipelines/halt.py`): no new file.

The interrupt removes the writer's temporary files once `halt()` has returned, then ends the
process; a scratch file created after that clean-up would stay beside the target.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

CHILD = textwrap.dedent(
    """
    import sys, threading
    from pathlib import Path
    from pipelines import halt
    from pipelines.c1z.writer import C1ZWriter

    target = Path(sys.argv[1])
    halt.halt()
    def write() -> None:
        with C1ZWriter(target):
            print("entered", flush=True)
    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    writer.join(2.0)
    print("parked" if writer.is_alive() else "returned", flush=True)
    print(sorted(p.name for p in target.parent.iterdir()), flush=True)
    """
)


def test_a_halted_process_starts_no_c1z_scratch_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(out / "sync.c1z")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["parked", "[]"], result.stdout
