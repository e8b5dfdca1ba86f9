"""The expectations worker process: imports GX once, then validates tables sent over a pipe.

Why a process: importing GX and building its context is ~5 s of pure Python. In the sync's own
process that time either delays the checks or, started early on a thread, holds the GIL against
the extract's member calls. A child process imports it on the machine's other core while the
extract runs, and the validations themselves run there too.

Protocol: the frames of `pipelines/worker_protocol.py` (parent side:
`expectations/validation_worker.py`), one request at a time:
- request: `validate` (`{"table": "<suite>"}`) with the table as its Arrow body;
- reply: `outcome` (`{"outcome": {...}}`) or `error` (`{"error": "WorkerError", "message": ...}`).
The process ends when stdin closes (the parent is done, or died). Everything else the process
prints, including GX's own output, goes to stderr so it can never corrupt a reply.

    python -m expectations.worker
"""

from __future__ import annotations

import dataclasses
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import types
from collections.abc import Sequence
from typing import Any, NoReturn

from pipelines.import_gc import imports_without_gc
from pipelines.released_memory import release_unused_memory
from pipelines.worker_protocol import Frame, FrameError, ParentLink


def main() -> NoReturn:
    link = ParentLink()
    # Below the sync's priority: on two cores the GX import runs beside the extract, whose member
    # calls wait on the CPU after every response (20 ms latency bench: extract ~0.5 s shorter).
    os.nice(10)
    startup_error = _prepare()
    while True:
        try:
            request = link.receive()
        except FrameError:  # the parent stopped mid-request: it kills this process
            request = None
        if request is None:  # the parent closed the pipe: leave without tearing GX's objects down
            link.close()
            sys.stderr.flush()
            os._exit(0)
        kind, fields = _handle(request, startup_error)
        link.send(kind, fields)
        # the memory of the last table goes back to the OS: the worker idles between the checks and
        # through the `.c1z` write (at L it kept ~850 MB after the grants without this)
        release_unused_memory()


def _prepare() -> str | None:
    """Imports GX and registers every suite; a failure is reported with each request instead.

    The cyclic GC is off meanwhile and what the import built is frozen after it: GX's import
    creates ~400,000 long-lived objects, and collecting them over and over while they are created
    was ~0.5 s of its ~2.3 s of CPU (the checks of a small sync wait for this import).
    """
    with imports_without_gc(freeze_after=True):
        try:
            without_optional_packages(ABSENT_OPTIONAL_PACKAGES)
            defer_until_used(DEFERRED_MODULES)
            from expectations.runner import prepare

            prepare()
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails the check
            return f"preparing the expectation suites failed: {type(exc).__name__}: {exc}"
    return None


# The checks of a sync wait for `_prepare` when the main process reaches them first, and on two
# cores its CPU is taken from the main process's start-up, the member calls and the simulator
# (docs/benchmarks.md, fourteenth and sixteenth rounds).
#
# Modules GX imports at its own import only for expectations the suites do not use: `scipy.stats`
# (`from scipy import stats` in the KL-divergence and KS-test expectations) was ~0.45 of the ~1.9
# CPU-s of `_prepare`; altair (`import altair as alt` in the KL-divergence expectation, used only
# by its chart renderers) ~0.1.
DEFERRED_MODULES = ("scipy.stats", "altair")
# Packages GX treats as optional (not among its requirements; `great_expectations/compatibility/`
# imports them in `try/except ImportError`): SQLAlchemy is installed for Dagster's storages, and
# GX's import pulled in ~150 of its modules (~0.13 CPU-s) for the SQL datasources the suites never
# use. In this process GX finds it absent, as in an installation without GX's SQL extra.
ABSENT_OPTIONAL_PACKAGES = ("sqlalchemy",)


def without_optional_packages(names: tuple[str, ...]) -> None:
    """Makes every later `import <name>` (and of its submodules) raise ImportError in this process.

    `None` in `sys.modules` is Python's own marker for that. Only for packages the process's code
    treats as optional and does not need: this worker's is GX with pandas.
    """
    for name in names:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # None: "not importable"


def defer_until_used(names: tuple[str, ...]) -> None:
    """The first import of each module creates it as a lazy module: it is executed at the first
    access to one of its attributes (`importlib.util.LazyLoader`), so code that uses it still gets
    it whole.

    Only for modules imported once by code that merely binds them: the import system reads a
    module's `__spec__` when it finds it already in `sys.modules`, so a second import (`import
    name` again, `import name.sub`) executes it at once, which is correct, only not deferred. A
    name that is not installed is left to the import that needs it.
    """
    pending = {name for name in names if name not in sys.modules}
    if pending:
        sys.meta_path.insert(0, _LazyFirstImport(pending))


class _LazyFirstImport(importlib.abc.MetaPathFinder):
    """Finds each named module once, through the usual path finder, with a lazy loader."""

    def __init__(self, names: set[str]) -> None:
        self._names = names

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self._names:
            return None
        self._names.discard(fullname)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or spec.loader is None:  # not installed: the import fails as it would
            return None
        spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


def _handle(request: Frame, startup_error: str | None) -> tuple[str, dict[str, Any]]:
    """The reply to one request: `("outcome", {...})` or `("error", {...})`."""
    table, table_name = request.table, request.fields.get("table")
    request.table = None  # this function holds the only reference: converting frees it column by column
    if request.kind != "validate" or table is None or not isinstance(table_name, str):
        return _error(f"unreadable request: a {request.kind!r} frame")
    if startup_error is not None:
        return _error(startup_error)
    try:
        from expectations.runner import validate

        # self_destruct frees each Arrow column as it is converted: a million grants are held once,
        # not twice (Arrow and pandas side by side), while GX validates them beside the sync
        frame = table.to_pandas(self_destruct=True, split_blocks=True)
        del table
        outcome = validate(table_name, frame)
    except Exception as exc:  # noqa: BLE001 - the check reports it as its failure
        return _error(f"validating {table_name} failed: {type(exc).__name__}: {exc}")
    return "outcome", {"outcome": dataclasses.asdict(outcome)}


def _error(message: str) -> tuple[str, dict[str, Any]]:
    return "error", {"error": "WorkerError", "message": message}


if __name__ == "__main__":
    main()
