"""`python -m tests.reliability.held_stage STAGE ARGS`: the CLI sync, held once STAGE has begun.

On the reliability org two stages are shorter than a loaded machine takes to read a progress line
and send the signal: the write (~25 ms from `write: encoding` to publishing) and publishing (~0.1 s
from `publish: replacing` to the end of the run). A signal read late then landed in the next stage
(publishing, which an interrupt waits for by design, or after the run) and the case tested another
stage than its name. Here the run says `HELD[STAGE]` on stderr once the stage has begun and waits:
- `write`: the writer has its scratch database beside the target and waits for its first user row
  (up to `HOLD_S`), so a signal or a kill at that line lands in the write every time;
- `publish`: inside publishing (the interrupt's lock held), before the commit, it waits until the
  process halts (the interrupt watcher's first act, `pipelines/halt.py`), then commits (0.5 s late,
  so an interrupt that did not wait would end the process first) and renames while the watcher
  waits for it: an interrupt under way during publishing, every time;
- `checkpoint`: the write held as for `write`, and the warehouse's checkpoint beside it (on the
  publish's copy thread, `publish.checkpoint_before_copy`) waits until the process halts, then
  runs: a checkpoint under way while the interrupt ends the process, every time.

Only when the real code goes on changes: the writer, the warehouse, the signal handling and the
exit are the CLI's own (`orchestration.cli.run`, the console script's code).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

HELD = {
    "write": "write: held for the test",
    "publish": "publish: held for the test",
    "checkpoint": "checkpoint: held for the test",
}
HOLD_S = 120.0  # far beyond any test's wait for the signal; then the run goes on
# longer than the rest of an interrupt's work (~0.1 s), well within its wait for publishing
# (orchestration/interrupts.py PUBLISH_WAIT_S, 3 s): a process that did not wait ends first
SLOW_COMMIT_S = 0.5
Row = TypeVar("Row")


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _held_rows(rows: Iterable[Row], say: bool) -> Iterator[Row]:
    """`rows`, the first one after `HOLD_S` (the writer asks for it once its scratch file exists)."""
    if say:
        _say(HELD["write"])
    time.sleep(HOLD_S)
    yield from rows


def _hold_write(say: bool = True) -> None:
    from pipelines.c1z import writer

    write_c1z = writer.write_c1z

    def held_write(path: Any, *, users: Iterable[Any], **rows: Any) -> Any:
        return write_c1z(path, users=_held_rows(users, say), **rows)

    writer.write_c1z = held_write  # type: ignore[assignment]  # before sync_file imports it by name


def _hold_checkpoint() -> None:
    from orchestration import publish
    from pipelines import halt

    _hold_write(say=False)
    checkpoint = publish.checkpoint_before_copy

    def held_checkpoint(cursor: Any) -> None:
        _say(HELD["checkpoint"])
        halt._halted.wait(HOLD_S)  # the interrupt began: it ends the process while this checkpoints
        checkpoint(cursor)

    publish.checkpoint_before_copy = held_checkpoint  # type: ignore[assignment]  # _copy looks it up


def _hold_publish() -> None:
    from orchestration.publish import StagedPublish
    from pipelines import halt

    commit = StagedPublish.commit

    def held_commit(self: StagedPublish, *args: Any, **kwargs: Any) -> None:
        _say(HELD["publish"])
        halt._halted.wait(HOLD_S)  # the interrupt began: it now waits for this commit and the rename
        time.sleep(SLOW_COMMIT_S)
        commit(self, *args, **kwargs)

    StagedPublish.commit = held_commit  # type: ignore[method-assign]


def main() -> None:
    stage = sys.argv.pop(1)
    from pipelines.native_threads import with_one_blas_thread

    with_one_blas_thread(os.environ)  # as `run` does, before anything imported here loads numpy
    {"write": _hold_write, "publish": _hold_publish, "checkpoint": _hold_checkpoint}[stage]()
    from orchestration.cli import run

    run()


if __name__ == "__main__":
    main()
