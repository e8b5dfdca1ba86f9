"""`baton-xmatters`: the sync (baton's flags and BATON_* variables), plus `demo`, `inspect`, `simulate`.

A thin entry point: parse, hand over to the command module, print one-line errors, set the exit code.
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from collections.abc import Sequence
from typing import NoReturn

SUBCOMMANDS = ("demo", "diff", "inspect", "simulate")


def build_sync_parser() -> argparse.ArgumentParser:
    # Imported here, not at the top: the sync loads Dagster (seconds, ~100 MB), which `inspect` and
    # `simulate` do not need; reading a hostile file should not start by loading an orchestrator.
    from orchestration import sync_command

    parser = argparse.ArgumentParser(
        prog="baton-xmatters",
        description="Sync xMatters people, groups and group memberships into a C1 .c1z file and a DuckDB "
        "warehouse. Subcommands: demo (sync from the built-in simulator), inspect (read a .c1z), "
        "simulate (run the simulator).",
    )
    sync_command.add_sync_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    except BrokenPipeError:  # `baton-xmatters inspect ... | head`: the reader left, not an error
        sys.stderr.close()
        return 0


def run() -> NoReturn:
    """The console script: `main`, then exit without the interpreter's final garbage collections.

    At exit Python collects the whole heap several times over while it tears modules down: about
    2.5 s for the two million objects that Dagster, dlt and GX import, after the work is done and
    written. Freezing first leaves those objects to the operating system. Only for a process
    that is about to exit: in-process callers (tests) use `main`.
    """
    code = main()
    gc.freeze()
    sys.exit(code)


def _main(args: list[str]) -> int:
    if args and args[0] in SUBCOMMANDS:
        return _run_subcommand(args[0], args[1:])
    options = build_sync_parser().parse_args(args)
    _configure_logging(options.log_level)
    from orchestration import sync_command

    return sync_command.run_sync(options)


def _run_subcommand(name: str, args: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=f"baton-xmatters {name}")
    if name == "inspect":
        from pipelines.c1z.inspect import add_inspect_arguments, run_inspect

        add_inspect_arguments(parser)
        return run_inspect(parser.parse_args(args))
    if name == "diff":
        from orchestration.diff_command import add_diff_arguments, run_diff

        add_diff_arguments(parser)
        return run_diff(parser.parse_args(args))
    if name == "simulate":
        from simulator.cli import add_simulate_arguments, run_simulate

        add_simulate_arguments(parser)
        return run_simulate(parser.parse_args(args))
    from orchestration import demo_command

    demo_command.add_demo_arguments(parser)
    options = parser.parse_args(args)
    _configure_logging(options.log_level)
    return demo_command.run_demo(options)


def _configure_logging(level: str) -> None:
    """Progress goes to stderr, one line per stage; the summary goes to stdout."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S"))
    for name in ("baton_xmatters", "pipelines", "simulator"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level.upper())
        logger.propagate = False


if __name__ == "__main__":
    run()
