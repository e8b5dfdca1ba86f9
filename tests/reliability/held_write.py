"""`python -m tests.reliability.held_write ARGS`: the CLI sync, its `.c1z` write held once begun.

On the reliability org the write takes ~25 ms between its first line (`write: encoding`) and the
publishing it leads to. A loaded machine took longer than that to read the line and send the signal,
so the signal landed while the run was publishing, which an interrupt waits for by design, and the
new file was published: the stage under test was missed, not the rule. Here the writer has begun (its
scratch database sits beside the target) and then waits before its first user row, announcing it
on stderr (`HELD`), so a signal or a kill at that line lands in the write every time.

Only the pace of the rows given to the real writer changes: the writer, the warehouse, the signal
handling and the exit are the CLI's own (`orchestration.cli.run`, the console script's code).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

HELD = "write: held for the test"
HOLD_S = 120.0  # far beyond any test's wait for the signal's effect; then the write goes on
Row = TypeVar("Row")


def _held(rows: Iterable[Row]) -> Iterator[Row]:
    """`rows`, once the writer asks for the first one after `HOLD_S` (said on stderr first)."""
    print(HELD, file=sys.stderr, flush=True)
    time.sleep(HOLD_S)
    yield from rows


def main() -> None:
    from pipelines.native_threads import with_one_blas_thread

    with_one_blas_thread(os.environ)  # as `run` does, before the writer's import loads numpy
    from pipelines.c1z import writer

    write_c1z = writer.write_c1z

    def held_write(path: Any, *, users: Iterable[Any], **rows: Any) -> Any:
        return write_c1z(path, users=_held(users), **rows)

    # before `orchestration.assets.sync_file` imports it by name
    writer.write_c1z = held_write  # type: ignore[assignment]
    from orchestration.cli import run

    run()


if __name__ == "__main__":
    main()
