"""`python -m tests.reliability.held_stage STAGE ARGS`: the CLI sync, held once STAGE has begun.

On the reliability org every stage is shorter than a loaded machine may take to read a progress
line and send the signal: a signal read late landed in the next stage (or after the run) and the
case tested another stage than its name. Here the run says `HELD[STAGE]` on stderr once the stage
has begun and waits there (up to `HOLD_S`, or until the file named by `$HELD_STAGE_RELEASE` exists),
so a signal or a kill at that line lands in the stage every time:
- `start-up`: the member calls started (`early_members.started`), the run not built yet
  (`sync_command.execute`, before Dagster is imported);
- `load`: dlt's load jobs have put the rows in the raw tables, the package not yet completed
  (`dlt.load.Load.complete_package`: no `_dlt_loads` row, the package still pending);
- `transform`: the first `c1_staging` table built and announced, the next one's statement not run;
- `write`: the writer has its scratch database beside the target and waits for its first user row;
- `publish`: inside publishing (the interrupt's lock held), before the commit, it waits until the
  process halts (the interrupt watcher's first act, `pipelines/halt.py`), then commits (0.5 s late,
  so an interrupt that did not wait would end the process first) and renames while the watcher
  waits for it: an interrupt under way during publishing, every time;
- `checkpoint`: the write held as for `write`, and the warehouse's checkpoint beside it (on the
  publish's copy thread, `publish.checkpoint_before_copy`) waits until the process halts, then
  runs: a checkpoint under way while the interrupt ends the process, every time.

Only when the real code goes on changes: the writer, the warehouse, the signal handling and the
exit are the CLI's own (`orchestration.cli.run`, the console script's code). The patched names are
looked up here: one renamed fails the run at once, naming it, and a run that ends without reaching
its hold (the patched function no longer called) fails too (`NOT_HELD_EXIT`), never passing
unheld. The stages other than `write` and `start-up` import their module (dlt, Dagster) before the
CLI would: slower start-up, same sync.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

STAGES = ("start-up", "load", "transform", "write", "publish", "checkpoint")
HELD = {stage: f"{stage}: held for the test" for stage in STAGES}
RELEASE_ENV = "HELD_STAGE_RELEASE"  # a file whose creation ends the hold (the run then goes on)
HOLD_S = 120.0  # far beyond any test's wait for the signal; then the run goes on
POLL_S = 0.02
_write_held = threading.Event()  # `checkpoint`: the write held with its scratch file made
# longer than the rest of an interrupt's work (~0.1 s), well within its wait for publishing
# (orchestration/interrupts.py PUBLISH_WAIT_S, 3 s): a process that did not wait ends first
SLOW_COMMIT_S = 0.5
NOT_HELD_EXIT = 3
Row = TypeVar("Row")

_reached: list[str] = []


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _hold(stage: str) -> None:
    """Says the stage is held, then waits `HOLD_S` or until the release file exists."""
    _reached.append(stage)
    _say(HELD[stage])
    release = os.environ.get(RELEASE_ENV)
    deadline = time.monotonic() + HOLD_S
    while time.monotonic() < deadline and not (release and os.path.exists(release)):
        time.sleep(POLL_S)


def patch(owner: Any, name: str, wrap: Callable[[Any], Any]) -> None:
    """`owner.name = wrap(owner.name)`; exits naming it when `owner` has no such attribute (renamed)."""
    original = getattr(owner, name, None)
    if not callable(original):
        raise SystemExit(
            f"held_stage: {getattr(owner, '__name__', owner)}.{name} not found (renamed?): "
            "update tests/reliability/held_stage.py"
        )
    setattr(owner, name, wrap(original))


def _held_rows(rows: Iterable[Row], stage: str) -> Iterator[Row]:
    """`rows`, the first one once the hold ends (the writer asks for it once its scratch file exists).

    Held silently for `checkpoint`, whose own hold is the one the test waits for."""
    if stage == "write":
        _hold("write")
    else:
        _write_held.set()  # the scratch file exists: the checkpoint's hold may begin
        time.sleep(HOLD_S)
    yield from rows


def _hold_write(stage: str = "write") -> None:
    from pipelines.c1z import writer

    def wrap(write_c1z: Any) -> Any:
        def held_write(path: Any, *, users: Iterable[Any], **rows: Any) -> Any:
            return write_c1z(path, users=_held_rows(users, stage), **rows)

        return held_write

    patch(writer, "write_c1z", wrap)  # before sync_file imports it by name


def _hold_checkpoint() -> None:
    from orchestration import publish
    from pipelines import halt

    _hold_write("checkpoint")

    def wrap(checkpoint: Any) -> Any:
        def held_checkpoint(cursor: Any) -> None:
            _write_held.wait(HOLD_S)  # the copy thread starts before the write: a write under way
            _reached.append("checkpoint")
            _say(HELD["checkpoint"])
            halt._halted.wait(HOLD_S)  # the interrupt began: it ends the process while this checkpoints
            checkpoint(cursor)

        return held_checkpoint

    if not isinstance(getattr(halt, "_halted", None), threading.Event):  # what `halt()` sets
        raise SystemExit("held_stage: pipelines.halt._halted not found (renamed?): update held_stage.py")
    patch(publish, "checkpoint_before_copy", wrap)  # `_copy` looks it up when it runs


def _hold_publish() -> None:
    from orchestration.publish import StagedPublish
    from pipelines import halt

    def wrap(commit: Any) -> Any:
        def held_commit(self: StagedPublish, *args: Any, **kwargs: Any) -> None:
            _reached.append("publish")
            _say(HELD["publish"])
            halt._halted.wait(HOLD_S)  # the interrupt began: it now waits for this commit and the rename
            time.sleep(SLOW_COMMIT_S)
            commit(self, *args, **kwargs)

        return held_commit

    if not isinstance(getattr(halt, "_halted", None), threading.Event):  # what `halt()` sets
        raise SystemExit("held_stage: pipelines.halt._halted not found (renamed?): update held_stage.py")
    patch(StagedPublish, "commit", wrap)


def _hold_start_up() -> None:
    from orchestration import sync_command

    def wrap(execute: Any) -> Any:
        def held_execute(*args: Any, **kwargs: Any) -> Any:
            _hold("start-up")
            return execute(*args, **kwargs)

        return held_execute

    patch(sync_command, "execute", wrap)  # looked up when run_sync calls it


def _hold_load() -> None:
    from dlt.load.load import Load

    def wrap(complete_package: Any) -> Any:
        def held_complete(self: Load, load_id: str, schema: Any, aborted: bool = False) -> None:
            if not aborted:
                _hold("load")
            complete_package(self, load_id, schema, aborted)

        return held_complete

    patch(Load, "complete_package", wrap)


def _hold_transform() -> None:
    from orchestration.assets import c1_tables

    def wrap(statement: Any) -> Any:
        calls: list[str] = []

        def held_statement(con: Any, table: str, settings: Any) -> Any:
            calls.append(table)
            if len(calls) == 2:  # the first table is built and announced (`transform: c1_staging...`)
                _hold("transform")
            return statement(con, table, settings)

        return held_statement

    patch(c1_tables, "_statement", wrap)  # looked up by each staging asset as it runs


HOLDS = {
    "start-up": _hold_start_up,
    "load": _hold_load,
    "transform": _hold_transform,
    "write": _hold_write,
    "publish": _hold_publish,
    "checkpoint": _hold_checkpoint,
}


def run_held(stage: str, run: Callable[[], Any]) -> None:
    """`run()` with STAGE held; a run that ends without reaching its hold exits `NOT_HELD_EXIT`."""
    try:
        run()
    finally:
        if stage not in _reached:
            _say(f"held_stage: the run ended without reaching the {stage} hold (function no longer called?)")
            os._exit(NOT_HELD_EXIT)


def main() -> None:
    stage = sys.argv.pop(1)
    from pipelines.native_threads import with_one_blas_thread

    with_one_blas_thread(os.environ)  # as `run` does, before anything imported here loads numpy
    HOLDS[stage]()
    from orchestration.cli import run

    run_held(stage, run)


if __name__ == "__main__":
    main()
