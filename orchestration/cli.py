"""`baton-xmatters`: the sync (baton's flags and BATON_* variables), plus the commands in `SUBCOMMANDS`.

A thin entry point: parse, hand over to the command module, print one-line errors, set the exit code.
"""

from __future__ import annotations

import argparse
import codecs
import difflib
import gc
import importlib
import logging
import os
import shlex
import signal
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import NamedTuple, NoReturn

from orchestration import interrupts, log_settings
from pipelines.argument_parser import OneLineErrorParser
from pipelines.frame_stack import on_one_chunk
from pipelines.native_threads import with_one_blas_thread
from pipelines.terminal_text import terminal_lines


class Subcommand(NamedTuple):
    """Where a command lives: imported only when it runs (the sync's Dagster import takes seconds)."""

    module: str
    add_arguments: str
    run: str
    summary: str


SUBCOMMANDS: dict[str, Subcommand] = {
    "demo": Subcommand(
        "orchestration.demo_command", "add_demo_arguments", "run_demo", "sync from the built-in simulator"
    ),
    "diff": Subcommand(
        "orchestration.diff_command", "add_diff_arguments", "run_diff", "what changed between syncs"
    ),
    "inspect": Subcommand("pipelines.c1z.inspect", "add_inspect_arguments", "run_inspect", "read a .c1z"),
    "simulate": Subcommand("simulator.cli", "add_simulate_arguments", "run_simulate", "run the simulator"),
    "sql": Subcommand("orchestration.sql_shell", "add_sql_arguments", "run_sql", "query the warehouse"),
}


def executable() -> str:
    """This command's full path (shell-quoted), for hints that work without activating the venv.

    The console script sits beside the interpreter that runs it (`.venv/bin/`); when it does not
    (run as `python -m`), the bare name.
    """
    script = Path(sys.executable).with_name("baton-xmatters")
    return shlex.quote(str(script)) if script.is_file() else "baton-xmatters"


def version() -> str:
    """`baton-xmatters 0.1.0`: the installed package's version, as `baton --version` prints its own."""
    try:
        return f"baton-xmatters {metadata.version('baton-xmatters')}"
    except metadata.PackageNotFoundError:
        return "baton-xmatters (version unknown: not installed)"


def build_sync_parser() -> argparse.ArgumentParser:
    # Imported here, not at the top: the sync loads Dagster (seconds, ~100 MB), which `inspect` and
    # `simulate` do not need; reading a hostile file should not start by loading an orchestrator.
    from orchestration import sync_command
    from orchestration.service import settings as service_settings

    parser = OneLineErrorParser(
        prog="baton-xmatters",
        description="Sync xMatters people, groups and group memberships into a C1 .c1z file and a DuckDB "
        "warehouse. Subcommands: "
        + ", ".join(f"{name} ({command.summary})" for name, command in SUBCOMMANDS.items())
        + ".",
    )
    parser.add_argument("--version", action="version", version=version())
    sync_command.add_sync_arguments(parser)
    service_settings.add_service_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    except BrokenPipeError:  # `baton-xmatters inspect ... | head`: the reader left, not an error
        sys.stderr.close()
        return 0
    except UnicodeEncodeError as exc:
        if (message := _unwritable_output(exc)) is None:
            raise
        print(f"baton-xmatters: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C outside a sync (a sync handles it: orchestration/interrupts.py)
        print(interrupts.MESSAGE, file=sys.stderr)
        return interrupts.EXIT_CODES[signal.SIGINT]


def _unwritable_output(exc: UnicodeEncodeError) -> str | None:
    """The data has a character stdout's encoding lacks (a locale such as en_US.ISO-8859-1, or
    PYTHONIOENCODING=ascii): what to change, in one line; None when the error is not stdout's."""
    encoding = getattr(sys.stdout, "encoding", None)
    if not encoding or codecs.lookup(encoding).name != codecs.lookup(exc.encoding).name:
        return None
    character = ord(exc.object[exc.start])  # by code point: stderr may not write it either
    return (
        f"standard output's encoding ({encoding}) cannot write U+{character:04X}: "
        "use a UTF-8 locale (e.g. LC_ALL=C.UTF-8) or set PYTHONIOENCODING=utf-8"
    )


def run() -> NoReturn:
    """The console script: `main`, then exit without the interpreter's final garbage collections.

    At exit Python collects the whole heap several times over while it tears modules down: about
    2.5 s for the two million objects that Dagster, dlt and GX import, after the work is done and
    written. Freezing first leaves those objects to the operating system. Only for a process
    that is about to exit: in-process callers (tests) use `main`. Before anything imports numpy,
    OpenBLAS is held to one thread (pipelines/native_threads.py); the workers inherit it. The
    sync runs on one chunk of the frame stack (pipelines/frame_stack.py): its imports (Dagster,
    dlt) map no memory per call.
    """
    with_one_blas_thread(os.environ)
    code = on_one_chunk(main)
    gc.freeze()
    sys.exit(code)


def _main(args: list[str]) -> int:
    if args and args[0] in SUBCOMMANDS:
        return _run_subcommand(args[0], args[1:])
    if args and args[0] == "--version":  # before the sync's parser: no Dagster or dlt import for this
        print(version())
        return 0
    if args and not args[0].startswith("-"):  # the sync takes only flags: a bare word is a command
        print(f"baton-xmatters: error: {_unknown_command(args[0])}", file=sys.stderr)
        return 2
    options = build_sync_parser().parse_args(args)
    from orchestration.service.settings import read_settings
    from pipelines.xmatters.errors import ConfigError

    try:
        log_settings.resolve(options, os.environ)
        _configure_logging(options.log_level, options.log_format)
        service = read_settings(options)
    except ConfigError as exc:  # `--client-id ""`, `BATON_LOG_LEVEL=verbose`: one line, as every flag
        print(f"baton-xmatters: error: {exc}", file=sys.stderr)
        return 2
    if service.enabled:  # a C1 client id/secret: the self-hosted connector (orchestration/service)
        from orchestration.service.run import run_service

        return run_service(options, service)
    from orchestration import sync_command

    return sync_command.run_sync(options)


def _unknown_command(word: str) -> str:
    close = difflib.get_close_matches(word, SUBCOMMANDS, n=1, cutoff=0.6)
    if close:
        return f"unknown command '{word}'; did you mean '{close[0]}'?"
    return (
        f"unknown command '{word}' (commands: {', '.join(SUBCOMMANDS)}; "
        "the sync itself takes only flags, see --help)"
    )


def _run_subcommand(name: str, args: list[str]) -> int:
    command = SUBCOMMANDS[name]
    module = importlib.import_module(command.module)
    parser = OneLineErrorParser(prog=f"baton-xmatters {name}")
    getattr(module, command.add_arguments)(parser)
    options = parser.parse_args(args)
    if hasattr(options, "log_level"):  # the demo's sync
        from pipelines.xmatters.errors import ConfigError

        try:
            log_settings.resolve(options, os.environ)
        except ConfigError as exc:
            print(f"baton-xmatters: error: {exc}", file=sys.stderr)
            return 2
        _configure_logging(options.log_level, options.log_format)
    return int(getattr(module, command.run)(options))


def _configure_logging(level: str, log_format: str = log_settings.DEFAULT_FORMAT) -> None:
    """Progress goes to stderr, one line per stage (or one JSON object: `--log-format json`); the
    summary goes to stdout."""
    handler = logging.StreamHandler(sys.stderr)
    formatter: logging.Formatter = (
        log_settings.JsonFormatter()
        if log_format == "json"
        else TerminalFormatter("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S")
    )
    handler.setFormatter(formatter)
    for name in ("baton_xmatters", "pipelines", "simulator"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level.upper())
        logger.propagate = False


class TerminalFormatter(logging.Formatter):
    """Log lines with control characters escaped: names and messages from xMatters are data."""

    def format(self, record: logging.LogRecord) -> str:
        return terminal_lines(super().format(record))


if __name__ == "__main__":
    run()
