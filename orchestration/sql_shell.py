"""`baton-xmatters sql`: a read-only SQL shell on the warehouse, with the DuckDB the sync writes with.

Why a shell of our own: the warehouse is DuckDB storage v2 (storage version number 69), which DuckDB
1.x clients refuse, among them the newest `duckdb-cli` on PyPI (1.5.6). This one always matches.

DuckDB lets one writer or any number of readers hold a file, never both: a reader left open blocks
the next sync, and a running sync makes a reader fail. So the shell never holds the file between
statements: each submission (one query, or what was typed up to a `;`) opens the file read-only,
runs and closes it. While a CLI sync runs it holds `<warehouse>.lock`; the shell treats that lock
like DuckDB's own (and holds it shared while a statement runs, so a sync starting meanwhile
stops at once, before any request, instead of failing half-way on the file lock).
A statement's output is spooled to a temporary file a batch of rows at a time and printed after
the file is closed (sql_output.py): memory stays bounded whatever the result's size, and a slow
reader (a pager) never holds the warehouse.

No Dagster or dlt import here: the shell starts in a fraction of a second.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import duckdb

from orchestration.paths import data_paths, user_path
from orchestration.preflight import warehouse_directory_message
from orchestration.sql_output import FETCH_ROWS, Spool, spooled
from orchestration.sync_lock_reader import SyncHoldsLock, held_shared, lock_file_of
from pipelines.argument_parser import non_empty

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
    """Rows in memory, for `render_table`; the shell itself spools its results (sql_output.py)."""

    columns: list[str]
    rows: list[tuple[Any, ...]]


def add_sql_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Query the warehouse read-only. With QUERY: run it, print the result, exit. Without: read "
        "statements ending in ';' from stdin (a prompt when it is a terminal)."
    )
    parser.add_argument("query", nargs="?", help="the SQL to run (default: interactive)")
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
    if options.query is not None and not _has_statement(options.query):
        return _fail(
            'the query holds no SQL statement: give one (baton-xmatters sql "SELECT ..."), '
            "or leave QUERY out for the interactive shell",
            EXIT_USAGE,
        )
    warehouse = user_path(options.warehouse) if options.warehouse else data_paths().warehouse
    if (directory := warehouse_directory_message(warehouse)) is not None:
        return _fail(directory, EXIT_USAGE)
    if not warehouse.is_file():
        hint = "" if options.warehouse else " (run a sync first, or give --warehouse)"
        return _fail(f"no warehouse at {warehouse}{hint}", EXIT_USAGE)
    shell = ReadOnlyWarehouse(warehouse, wait_s=options.wait_timeout if options.wait else None)
    if options.query is not None:
        try:
            _print_results(shell.run(options.query, options.output_format), stdout)
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
        self.lock_file = lock_file_of(path)  # the sync's lock (sync_command.sync_lock)
        self.wait_s = wait_s

    def run(self, sql: str, output_format: str) -> list[Spool]:
        """Every statement's output (statements without one, e.g. SET, give none), spooled a batch
        of rows at a time while the file is open (orchestration/sql_output.py): the caller prints
        them after it is closed, however slowly stdout is read. An error discards them all."""
        spools: list[Spool] = []
        try:
            with self._connection() as con:
                for statement in con.extract_statements(sql):
                    try:
                        cursor = con.execute(statement.query)
                    except duckdb.CatalogException as exc:
                        raise ShellError(_one_line(exc) + self._unpublished_note(con)) from None
                    if cursor.description is None:
                        continue
                    columns = [column[0] for column in cursor.description]
                    spool = spooled(output_format, columns, _batches(cursor))
                    spools.append(spool)
                    if columns == ["Success"] and not spool.rows:  # SET, ATTACH...: nothing to show
                        spools.pop().close()
        except duckdb.Error as exc:
            _close(spools)
            raise ShellError(_one_line(exc)) from None
        except BaseException:
            _close(spools)
            raise
        return spools

    def _unpublished_note(self, con: duckdb.DuckDBPyConnection) -> str:
        """After a catalog error, what to add when no sync has published yet: a first sync that
        failed after its extract leaves raw and staged tables, and no `c1` ones to query."""
        published = "SELECT 1 FROM duckdb_tables() WHERE schema_name = 'c1' AND table_name = 'sync_runs'"
        try:
            if con.execute(published).fetchone() is not None:
                return ""
        except duckdb.Error:
            return ""
        first = "the c1 tables appear with the first successful sync"
        return f" (no sync has published to {self.path} yet: {first})"

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
            with held_shared(self.lock_file):
                yield
        except SyncHoldsLock as exc:
            raise self._busy(str(exc)) from None

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
        _print_results(shell.run(sql, output_format), stdout)
    except (WarehouseBusy, ShellError) as exc:
        print(f"baton-xmatters: error: {exc}", file=sys.stderr)
        return False
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return False
    stdout.flush()
    return True


def _batches(cursor: duckdb.DuckDBPyConnection) -> Iterator[list[tuple[Any, ...]]]:
    """The rows of the statement `cursor` ran, `FETCH_ROWS` at a time: never the whole result."""
    while rows := cursor.fetchmany(FETCH_ROWS):
        yield rows


def _print_results(spools: list[Spool], stdout: IO[str]) -> None:
    try:
        for spool in spools:
            spool.write_to(stdout)
    finally:
        _close(spools)


def _close(spools: list[Spool]) -> None:
    for spool in spools:
        spool.close()


def render_table(result: Result) -> str:
    """`result` as the table format prints it (without the last line break)."""
    spool = spooled("table", result.columns, [result.rows])
    text = io.StringIO()
    _print_results([spool], text)
    return text.getvalue().removesuffix("\n")


def _has_statement(query: str) -> bool:
    """False for a QUERY of only blanks, `;` and comments: `sql ""` (an unset shell variable) said
    `argument query: is empty (leave it out to use the default)`, and `sql ";"` printed nothing,
    exit 0. A query DuckDB cannot parse counts as a statement: running it names the syntax error."""
    if not query.strip():
        return False
    try:
        return bool(duckdb.extract_statements(query))
    except duckdb.Error:
        return True


def _seconds(text: str) -> float:
    """--wait-timeout: a number of seconds, not negative (`-1` waited 0 s and said "after -1 s")."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not seconds >= 0:  # NaN too
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds, got {text}")
    return seconds


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
