"""`baton-xmatters sql`: a read-only SQL shell on the warehouse, with the DuckDB the sync writes with.

Why a shell of our own: the warehouse is DuckDB storage v2 (storage version number 69), which DuckDB
1.x clients refuse, among them the newest `duckdb-cli` on PyPI (1.5.6). This one always matches.

DuckDB lets one writer or any number of readers hold a file, never both: a reader left open blocks
the next sync, and a running sync makes a reader fail. So the shell never holds the file between
statements: each submission (one query, or what was typed up to a `;`) opens the file read-only,
runs and closes it. While a CLI sync runs it holds `<warehouse>.lock`; the shell treats that lock
like DuckDB's own (and holds it shared while a statement runs, so a sync starting meanwhile
stops at once, before any request, instead of failing half-way on the file lock).

No Dagster or dlt import here: the shell starts in a fraction of a second.
"""

from __future__ import annotations

import argparse
import base64
import csv
import datetime
import decimal
import fcntl
import json
import math
import os
import re
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import duckdb

from orchestration.paths import data_paths, user_path
from orchestration.preflight import warehouse_directory_message
from pipelines.argument_parser import non_empty
from pipelines.terminal_text import display_width, pad, printable

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
OWNER_ONLY_UMASK = 0o077  # sync_command.PRIVATE_UMASK (not imported: that module loads far more)
DEFAULT_WAIT_S = 3600.0  # a sync of a large tenant takes minutes; Dagster's own cap is 2 h
_LOCK_MARKER = "Could not set lock on file"
_TABLES = (
    "SELECT table_schema AS schema, table_name AS name, table_type AS type FROM information_schema.tables "
    "WHERE table_catalog = current_database() ORDER BY 1, 2"
)
_HELP = (
    "End a statement with ';'. Each statement opens the warehouse read-only and closes it again, so\n"
    "SET and temporary tables do not carry over. .tables lists the tables, .quit (or Ctrl-D) exits."
)


@contextmanager
def _owner_only_files() -> Iterator[None]:
    """What a statement writes (`ATTACH 'copy.duckdb'`, `COPY ... TO`, `EXPORT DATABASE`) is
    readable by its owner only, as the warehouse it copies (the sync runs under umask 077 too)."""
    previous = os.umask(OWNER_ONLY_UMASK)
    try:
        yield
    finally:
        os.umask(previous)


class WarehouseBusy(Exception):
    """A sync holds the warehouse (DuckDB's writer lock or the CLI's sync lock)."""


class ShellError(Exception):
    """A one-line error: a SQL error, or a warehouse that cannot be opened."""


@dataclass(frozen=True)
class Result:
    columns: list[str]
    rows: list[tuple[Any, ...]]


def add_sql_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Query the warehouse read-only. With QUERY: run it, print the result, exit. Without: read "
        "statements ending in ';' from stdin (a prompt when it is a terminal)."
    )
    parser.add_argument("query", nargs="?", type=non_empty, help="the SQL to run (default: interactive)")
    parser.add_argument(
        "-o", "--output-format", choices=("table", "csv", "json"), default="table", help="default table"
    )
    parser.add_argument(
        "--warehouse",
        type=non_empty,
        help="the DuckDB file (default $BATON_XMATTERS_HOME/warehouse.duckdb, home ./var)",
    )
    parser.add_argument(
        "--wait",
        action="store_true",
        help="when a sync holds the warehouse, wait for it to end instead of failing",
    )
    parser.add_argument(
        "--wait-timeout",
        type=_seconds,
        default=DEFAULT_WAIT_S,
        metavar="SECONDS",
        help=f"longest wait with --wait (default {DEFAULT_WAIT_S:g})",
    )


def run_sql(options: argparse.Namespace, stdin: IO[str] | None = None, stdout: IO[str] | None = None) -> int:
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    warehouse = user_path(options.warehouse) if options.warehouse else data_paths().warehouse
    if (directory := warehouse_directory_message(warehouse)) is not None:
        return _fail(directory, EXIT_USAGE)
    if not warehouse.is_file():
        hint = "" if options.warehouse else " (run a sync first, or give --warehouse)"
        return _fail(f"no warehouse at {warehouse}{hint}", EXIT_USAGE)
    shell = ReadOnlyWarehouse(warehouse, wait_s=options.wait_timeout if options.wait else None)
    if options.query is not None:
        try:
            for result in shell.run(options.query):
                _print_result(result, options.output_format, stdout)
        except WarehouseBusy as exc:
            return _fail(str(exc), EXIT_FAILED)
        except ShellError as exc:
            return _fail(str(exc), EXIT_FAILED)
        return EXIT_OK
    return _interactive(shell, options.output_format, stdin, stdout)


class ReadOnlyWarehouse:
    """Runs SQL on the warehouse file, opening it read-only for each submission only."""

    def __init__(self, path: Path, *, wait_s: float | None) -> None:
        self.path = path
        self.lock_file = path.with_name(path.name + ".lock")  # the sync's lock (sync_command.sync_lock)
        self.wait_s = wait_s

    def run(self, sql: str) -> list[Result]:
        """Every statement's result (statements without one, e.g. SET, give none)."""
        with self._connection() as con:
            try:
                statements = con.extract_statements(sql)
                results = []
                for statement in statements:
                    relation = con.sql(statement.query)
                    if relation is None:
                        continue
                    result = Result(list(relation.columns), relation.fetchall())
                    if result.columns != ["Success"] or result.rows:  # SET, ATTACH...: nothing to show
                        results.append(result)
                return results
            except duckdb.Error as exc:
                raise ShellError(_one_line(exc)) from None

    @contextmanager
    def _connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with _owner_only_files():
            yield from self._connection_to_the_file()

    def _connection_to_the_file(self) -> Iterator[duckdb.DuckDBPyConnection]:
        deadline = None if self.wait_s is None else time.monotonic() + self.wait_s
        delay = 0.1
        announced = False
        while True:
            try:
                with self._sync_lock_shared():
                    con = self._connect()
                    try:
                        yield con
                    finally:
                        con.close()
                return
            except WarehouseBusy:
                if deadline is None or time.monotonic() >= deadline:
                    raise
                if not announced:
                    print(f"waiting for the sync to release {self.path} ...", file=sys.stderr, flush=True)
                    announced = True
                time.sleep(max(0.0, min(delay, deadline - time.monotonic())))
                delay = min(delay * 2, 1.0)

    def _connect(self) -> duckdb.DuckDBPyConnection:
        try:
            return duckdb.connect(str(self.path), read_only=True)
        except duckdb.IOException as exc:
            if _LOCK_MARKER in str(exc):
                holder = re.search(r"\(PID (\d+)\)", str(exc))
                evidence = f"writer PID {holder.group(1)}" if holder else "DuckDB's writer lock held"
                raise self._busy(evidence) from None
            raise ShellError(f"cannot open {self.path}: {_one_line(exc)}") from None
        except duckdb.Error as exc:
            raise ShellError(f"cannot open {self.path}: {_one_line(exc)}") from None

    @contextmanager
    def _sync_lock_shared(self) -> Iterator[None]:
        """Holds the CLI sync's lock file shared, if there is one; busy while a sync holds it."""
        try:
            fd = os.open(self.lock_file, os.O_RDONLY)  # never created here: the shell writes nothing
        except OSError:  # no CLI sync ever ran here (or it is unreadable): DuckDB's lock still applies
            fd = None
        if fd is None:
            yield
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                raise self._busy(f"{self.lock_file.name} held") from None
            yield
        finally:
            os.close(fd)

    def _busy(self, evidence: str) -> WarehouseBusy:
        """One line: the file, that a sync runs (the only writer we make), and what to do."""
        if self.wait_s is None:
            return WarehouseBusy(
                f"a sync is running on {self.path} ({evidence}); try again when it ends, or add --wait"
            )
        return WarehouseBusy(
            f"a sync is still running on {self.path} ({evidence}) after waiting "
            f"{self.wait_s:g} s (--wait-timeout)"
        )


def _interactive(shell: ReadOnlyWarehouse, output_format: str, stdin: IO[str], stdout: IO[str]) -> int:
    """Statements from stdin until EOF; a prompt and line editing on a terminal.

    A failed statement prints one line and the shell goes on; fed from a pipe, the exit status is 1
    when any statement failed, so scripts notice.
    """
    tty = stdin.isatty()
    if tty:
        with suppress(ImportError):
            import readline  # noqa: F401  (line editing and history for input())
        print(f"baton-xmatters sql: {shell.path} (read-only)\n{_HELP}", file=sys.stderr)
    failed = False
    buffer: list[str] = []
    while True:
        try:
            line = _read_line(stdin, tty, "sql> " if not buffer else "...> ")
        except KeyboardInterrupt:  # Ctrl-C drops the statement being typed, as psql does
            print(file=sys.stderr)
            buffer.clear()
            continue
        if line is None:
            break
        if not buffer and line.strip().startswith("."):
            command = line.strip().split()[0]
            if command in (".quit", ".exit"):
                return EXIT_OK
            if command == ".tables":
                failed |= not _submit(shell, _TABLES, output_format, stdout)
            elif command == ".help":
                print(_HELP, file=sys.stderr)
            else:
                print(
                    f"baton-xmatters: error: unknown command {command} (.tables, .help, .quit)",
                    file=sys.stderr,
                )
                failed = True
            continue
        buffer.append(line)
        if line.rstrip().endswith(";"):
            failed |= not _submit(shell, "\n".join(buffer), output_format, stdout)
            buffer.clear()
    if "".join(buffer).strip():  # the last statement of a script may lack its ';'
        failed |= not _submit(shell, "\n".join(buffer), output_format, stdout)
    return EXIT_FAILED if failed and not tty else EXIT_OK


def _read_line(stdin: IO[str], tty: bool, prompt: str) -> str | None:
    if tty:
        try:
            return input(prompt)
        except EOFError:
            print(file=sys.stderr)
            return None
    line = stdin.readline()
    return line.rstrip("\n") if line else None


def _submit(shell: ReadOnlyWarehouse, sql: str, output_format: str, stdout: IO[str]) -> bool:
    try:
        for result in shell.run(sql):
            _print_result(result, output_format, stdout)
    except (WarehouseBusy, ShellError) as exc:
        print(f"baton-xmatters: error: {exc}", file=sys.stderr)
        return False
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return False
    stdout.flush()
    return True


def _print_result(result: Result, output_format: str, stdout: IO[str]) -> None:
    if output_format == "json":
        records = [dict(zip(result.columns, _finite(row), strict=True)) for row in result.rows]
        stdout.write(json.dumps(records, ensure_ascii=False, default=_json_value, allow_nan=False) + "\n")
    elif output_format == "csv":
        writer = csv.writer(stdout, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows([_csv_cell(value) for value in row] for row in result.rows)
    else:
        stdout.write(render_table(result) + "\n")


def render_table(result: Result) -> str:
    """Columns aligned by display width (pipelines/terminal_text.py), NULL for missing values."""
    cells = [result.columns, *([_table_cell(value) for value in row] for row in result.rows)]
    widths = [max(display_width(row[i]) for row in cells) for i in range(len(result.columns))]
    lines = [" | ".join(pad(cell, w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    count = len(result.rows)
    lines.append(f"({count} row{'' if count == 1 else 's'})")
    return "\n".join(lines)


def _table_cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return printable(value)  # control characters shown escaped, never sent to the terminal
    if isinstance(value, list | dict | tuple):
        return printable(json.dumps(value, ensure_ascii=False, default=_json_value))
    return str(value)


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list | dict | tuple):
        return json.dumps(value, ensure_ascii=False, default=_json_value)
    if isinstance(value, bytes):
        return _json_value(value)
    return value


def _seconds(text: str) -> float:
    """--wait-timeout: a number of seconds, not negative (`-1` waited 0 s and said "after -1 s")."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not seconds >= 0:  # NaN too
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds, got {text}")
    return seconds


def _finite(value: Any) -> Any:
    """NaN and ±Infinity as null, as JavaScript writes them: JSON has no such numbers, and `jq` and
    strict parsers refused the whole output when Python's `NaN` was in it."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    return value


def _json_value(value: Any) -> Any:
    """JSON for what DuckDB returns beyond JSON's types: timestamps, decimals, UUIDs, blobs."""
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return str(value)


def _one_line(exc: BaseException) -> str:
    """DuckDB's message up to its `LINE n:` excerpt, on one line (keeps 'Did you mean ...?')."""
    lines: list[str] = []
    for line in str(exc).splitlines():
        if line.startswith("LINE "):
            break
        if line.strip():
            lines.append(line.strip())
    return " ".join(lines) or type(exc).__name__


def _fail(message: str, code: int) -> int:
    print(f"baton-xmatters: error: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="baton-xmatters sql")
    add_sql_arguments(parser)
    return run_sql(parser.parse_args(argv))
