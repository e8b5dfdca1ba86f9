"""`baton-xmatters sql`: a read-only shell on the warehouse that says (or waits) when a sync writes it.

The warehouse here is a real DuckDB file with the types the c1 tables use; the writer holding the
lock is a real second process, as a sync is.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import duckdb
import pytest

from orchestration import sql_shell
from orchestration.cli import main

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.sql(
            """
            CREATE SCHEMA c1;
            CREATE TABLE c1.users (user_id VARCHAR, display_name VARCHAR, status VARCHAR,
                visible BOOLEAN, created_at TIMESTAMPTZ,
                emails STRUCT(address VARCHAR, is_primary BOOLEAN)[], score DECIMAL(5,2));
            INSERT INTO c1.users VALUES
                ('u1', 'Zoë Ødegaard', 'ENABLED', true, TIMESTAMPTZ '2024-01-02 03:04:05+00',
                 [{'address': 'zoe@example.com', 'is_primary': true}], 1.50),
                ('u2', '李 王', 'DISABLED', false, NULL, [], NULL);
            """
        )
    return path


def sql(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["sql", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_one_query_as_a_table(capsys, warehouse: Path):
    code, out, err = sql(
        capsys, "--warehouse", str(warehouse), "SELECT display_name, status FROM c1.users ORDER BY 1"
    )
    assert (code, err) == (0, "")
    assert out == textwrap.dedent(
        """\
        display_name | status
        -------------+---------
        Zoë Ødegaard | ENABLED
        李 王        | DISABLED
        (2 rows)
        """
    )  # 李 and 王 take two columns each on a terminal


def test_json_has_no_nan_or_infinity(capsys, warehouse: Path):
    """Python's json wrote `NaN`, which `jq` and strict parsers refuse: the whole output was unreadable."""
    query = (
        "SELECT 'nan'::DOUBLE AS f, '-inf'::DOUBLE AS g, [1.5, 'inf'::DOUBLE] AS l, {'x': 'nan'::DOUBLE} AS s"
    )
    code, out, _ = sql(capsys, "--warehouse", str(warehouse), "-o", "json", query)
    assert code == 0

    def refuse(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    assert json.loads(out, parse_constant=refuse) == [
        {"f": None, "g": None, "l": [1.5, None], "s": {"x": None}}
    ]


def test_csv_and_json_for_scripts(capsys, warehouse: Path):
    query = "SELECT user_id, created_at, emails, score, visible FROM c1.users ORDER BY 1"
    code, out, _ = sql(capsys, "--warehouse", str(warehouse), "-o", "json", query)
    assert code == 0
    assert json.loads(out) == [
        {
            "user_id": "u1",
            "created_at": "2024-01-02T03:04:05Z",
            "emails": [{"address": "zoe@example.com", "is_primary": True}],
            "score": 1.5,
            "visible": True,
        },
        {"user_id": "u2", "created_at": None, "emails": [], "score": None, "visible": False},
    ]
    code, out, _ = sql(capsys, "--warehouse", str(warehouse), "-o", "csv", query)
    assert code == 0
    assert out.splitlines() == [
        "user_id,created_at,emails,score,visible",
        'u1,2024-01-02T03:04:05Z,"[{""address"": ""zoe@example.com"", ""is_primary"": true}]",1.50,True',
        "u2,,[],,False",
    ]


def test_the_default_warehouse_is_the_syncs(capsys, warehouse: Path, monkeypatch):
    monkeypatch.setenv("BATON_XMATTERS_HOME", str(warehouse.parent))
    code, out, _ = sql(capsys, "-o", "csv", "SELECT count(*) AS n FROM c1.users")
    assert (code, out) == (0, "n\n2\n")


def test_sql_errors_and_writes_are_one_line_and_exit_1(capsys, warehouse: Path):
    before = warehouse.read_bytes()
    code, out, err = sql(capsys, "--warehouse", str(warehouse), "SELECT * FROM c1.user")
    assert (code, out) == (1, "")
    assert err.startswith("baton-xmatters: error: Catalog Error: Table with name user does not exist!")
    assert "Did you mean" in err and err.count("\n") == 1
    code, _, err = sql(capsys, "--warehouse", str(warehouse), "DELETE FROM c1.users")
    assert code == 1 and "read-only mode" in err and err.count("\n") == 1
    assert warehouse.read_bytes() == before


def test_a_missing_warehouse_is_not_created(capsys, tmp_path: Path):
    missing = tmp_path / "nowhere" / "warehouse.duckdb"
    code, out, err = sql(capsys, "--warehouse", str(missing), "SELECT 1")
    assert (code, out) == (2, "")
    assert err == f"baton-xmatters: error: no warehouse at {missing}\n"
    assert not missing.parent.exists()


def test_a_directory_given_as_the_warehouse_is_named(capsys, tmp_path: Path):
    code, out, err = sql(capsys, "--warehouse", str(tmp_path), "SELECT 1")
    assert (code, out) == (2, "")
    assert err == (
        f"baton-xmatters: error: --warehouse: {tmp_path} is a directory; name the DuckDB file, "
        f"e.g. {tmp_path}/warehouse.duckdb\n"
    )


def hold(script: str, path: Path) -> subprocess.Popen[str]:
    """Another process that takes a lock on `path` as a sync does, until its stdin closes."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            script + "\nprint('held', flush=True)\nimport sys; sys.stdin.read()",
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    return holder


WRITER = "import duckdb, sys; con = duckdb.connect(sys.argv[1])"
SYNC_LOCK = "import fcntl, sys; f = open(sys.argv[1] + '.lock', 'a+'); fcntl.flock(f, fcntl.LOCK_EX)"


def shell_argv(warehouse: Path, *argv: str) -> list[str]:
    return [sys.executable, "-m", "orchestration.cli", "sql", "--warehouse", str(warehouse), *argv]


@pytest.mark.parametrize("script", [WRITER, SYNC_LOCK], ids=["duckdb writer", "sync lock"])
def test_a_running_sync_is_named_and_wait_waits_for_it(capsys, warehouse: Path, script: str):
    holder = hold(script, warehouse)
    assert holder.stdin is not None
    try:
        code, out, err = sql(capsys, "--warehouse", str(warehouse), "SELECT 1")
        assert (code, out) == (1, "")
        assert err.startswith(f"baton-xmatters: error: a sync is running on {warehouse} (")
        assert err.endswith("); try again when it ends, or add --wait\n")

        code, _, err = sql(
            capsys, "--warehouse", str(warehouse), "--wait", "--wait-timeout", "0.3", "SELECT 1"
        )
        assert code == 1 and "after waiting 0.3 s (--wait-timeout)" in err

        query = "SELECT count(*) AS n FROM c1.users"
        waiting = subprocess.Popen(
            shell_argv(warehouse, "--wait", "-o", "csv", query),
            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert waiting.stderr is not None
        assert waiting.stderr.readline() == f"waiting for the sync to release {warehouse} ...\n"
    finally:
        holder.stdin.close()  # the sync ends
        holder.wait(timeout=30)
    out, err = waiting.communicate(timeout=60)
    assert (waiting.returncode, out, err) == (0, "n\n2\n", "")


def test_statements_from_a_pipe_run_in_order_and_a_failure_sets_the_exit_code(warehouse: Path):
    script = "SELECT 1 AS a;\n.tables\nSELECT nope;\nSELECT 'x;y'\n  AS b; SELECT 3 AS c"
    result = subprocess.run(
        shell_argv(warehouse, "-o", "csv"),
        input=script, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stdout == "a\n1\nschema,name,type\nc1,users,BASE TABLE\nb\nx;y\nc\n3\n"
    assert result.stderr.count("baton-xmatters: error: Binder Error") == 1


def test_an_idle_shell_does_not_hold_the_warehouse(warehouse: Path):
    """A shell left open must not block the next sync: it opens the file per statement."""
    shell = subprocess.Popen(
        shell_argv(warehouse, "-o", "csv"),
        cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert shell.stdin is not None and shell.stdout is not None
    shell.stdin.write("SELECT count(*) AS n FROM c1.users;\n")
    shell.stdin.flush()
    assert [shell.stdout.readline(), shell.stdout.readline()] == ["n\n", "2\n"]
    with duckdb.connect(str(warehouse)) as writer:  # what the next sync does
        writer.sql("INSERT INTO c1.users (user_id) VALUES ('u3')")
    shell.stdin.write("SELECT count(*) AS n FROM c1.users;\n")
    shell.stdin.close()
    assert shell.stdout.read() == "n\n3\n"
    assert shell.wait(timeout=30) == 0


def test_sql_starts_without_dagster_or_dlt(warehouse: Path):
    probe = (
        "import sys; from orchestration.cli import main; "
        f"code = main(['sql', '--warehouse', {str(warehouse)!r}, 'SELECT 1']); "
        "print(code, sorted(m for m in ('dagster', 'dlt', 'great_expectations') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.splitlines()[-1] == "0 []", result.stderr


def test_a_copy_for_duckdb_1_clients(capsys, warehouse: Path, tmp_path: Path):
    """The docs' recipe: DuckDB 1.x clients cannot read storage v2, so write a v1.4 copy."""
    copy = tmp_path / "warehouse-v1.duckdb"
    code, out, err = sql(
        capsys,
        "--warehouse",
        str(warehouse),
        f"ATTACH '{copy}' AS v1 (STORAGE_VERSION 'v1.4.0', READ_WRITE); COPY FROM DATABASE warehouse TO v1;",
    )
    assert (code, out, err) == (0, "", "")  # statements without rows print nothing
    with duckdb.connect(str(copy), read_only=True) as con:
        tags = con.sql("SELECT tags FROM duckdb_databases() WHERE database_name = 'warehouse-v1'").fetchall()
        assert tags == [({"storage_version": "v1.4.0+"},)]
        assert con.sql("SELECT count(*) FROM c1.users").fetchall() == [(2,)]


def test_a_sync_starting_during_a_statement_stops_before_any_request(capsys, warehouse: Path):
    """The shell holds the sync lock shared while a statement runs; the sync says who may hold it."""
    reader = hold(
        "import fcntl, sys; f = open(sys.argv[1] + '.lock', 'a+'); fcntl.flock(f, fcntl.LOCK_SH)", warehouse
    )
    assert reader.stdin is not None
    try:
        argv = ["--base-url", "http://127.0.0.1:9/api/xm/1", "--username", "u", "--password", "p"]
        assert main([*argv, "--warehouse", str(warehouse), "-f", str(warehouse.with_name("s.c1z"))]) == 1
    finally:
        reader.stdin.close()
        reader.wait(timeout=30)
    err = capsys.readouterr().err
    assert "another sync is running against" in err and "or baton-xmatters sql or diff is reading it" in err


@pytest.mark.parametrize(
    ("value", "why"), [("-1", "must be 0 or more seconds, got -1"), ("soon", "must be a number")]
)
def test_a_negative_or_non_numeric_wait_timeout_is_refused(capsys, warehouse: Path, value: str, why: str):
    """`--wait-timeout -1` was taken: it waited 0 s and said "after waiting -1 s"."""
    with pytest.raises(SystemExit) as exit_info:
        main(["sql", "--warehouse", str(warehouse), "--wait", "--wait-timeout", value, "SELECT 1"])
    assert exit_info.value.code == 2
    assert f"argument --wait-timeout: {why}" in capsys.readouterr().err


def test_what_a_statement_writes_is_readable_by_its_owner_only(capsys, warehouse: Path, tmp_path: Path):
    """An ATTACH copy, a COPY ... TO and an EXPORT DATABASE were 0644 (0755 for the directory)
    under the usual umask 022, while the warehouse they copy is 0600."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    statements = (
        f"ATTACH '{out_dir / 'copy.duckdb'}' AS c (READ_WRITE); CREATE TABLE c.u AS SELECT * FROM c1.users; "
        f"COPY c1.users TO '{out_dir / 'users.csv'}'; EXPORT DATABASE '{out_dir / 'export'}';"
    )
    previous = os.umask(0o022)
    try:
        code, _, err = sql(capsys, "--warehouse", str(warehouse), statements)
        assert os.umask(0o022) == 0o022  # the shell's own umask is back
    finally:
        os.umask(previous)
    assert (code, err) == (0, "")
    written = sorted(out_dir.rglob("*"))
    assert {p.name for p in written} >= {"copy.duckdb", "users.csv", "export", "schema.sql", "load.sql"}
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in written} == {
        p.name: "0o700" if p.is_dir() else "0o600" for p in written
    }


def test_an_output_encoding_without_the_datas_characters_is_one_line(warehouse: Path):
    """stdout in a locale such as en_US.ISO-8859-1 or ascii (here PYTHONIOENCODING, as such a
    locale sets it) cannot write 'Zoë' or '李': one line saying how to get UTF-8, not a traceback."""
    result = subprocess.run(
        shell_argv(warehouse, "SELECT display_name FROM c1.users ORDER BY user_id"),
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONIOENCODING": "ascii"},
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr == (
        "baton-xmatters: error: standard output's encoding (ascii) cannot write U+00EB: "
        "use a UTF-8 locale (e.g. LC_ALL=C.UTF-8) or set PYTHONIOENCODING=utf-8\n"
    )


# ---- results of any size: spooled in batches, printed after the warehouse is closed ----------------


def test_a_result_of_several_batches_is_printed_as_one(capsys, warehouse: Path, monkeypatch):
    """Rows are fetched and spooled a batch at a time (here 3): the JSON array and the CSV go on
    across batches, and the table's columns are as wide as the widest cell of any batch (here the
    last one's), not the first batch's."""
    monkeypatch.setattr(sql_shell, "FETCH_ROWS", 3)
    query = "SELECT i, CASE WHEN i = 7 THEN 'the widest: 李' ELSE 'n' || i END AS name FROM range(8) t(i)"
    names = [f"n{i}" for i in range(7)] + ["the widest: 李"]
    code, out, err = sql(capsys, "--warehouse", str(warehouse), query + " ORDER BY i")
    assert (code, err) == (0, "")
    assert (
        out
        == "\n".join(
            [
                "i | name",
                "--+-" + "-" * 14,  # 李 takes two columns
                *(f"{i} | {name}".rstrip() for i, name in enumerate(names[:7])),
                "7 | the widest: 李",
                "(8 rows)\n",
            ]
        )
    )
    assert out.splitlines()[2] == "0 | n0"  # padding cut at the line's end, as before
    code, out, _ = sql(capsys, "--warehouse", str(warehouse), "-o", "json", query + " ORDER BY i")
    records = [{"i": i, "name": name} for i, name in enumerate(names)]
    assert (code, out) == (0, json.dumps(records, ensure_ascii=False) + "\n")
    code, out, _ = sql(capsys, "--warehouse", str(warehouse), "-o", "csv", query + " ORDER BY i")
    assert (code, out) == (0, "i,name\n" + "".join(f"{i},{name}\n" for i, name in enumerate(names)))
    code, out, _ = sql(capsys, "--warehouse", str(warehouse), "-o", "json", query + " LIMIT 0")
    assert (code, out) == (0, "[]\n")


def test_the_warehouse_is_free_while_the_output_waits_for_its_reader(warehouse: Path):
    """A pager (`less`) reads the output as its user scrolls: the shell must not hold the warehouse
    (nor the sync's lock) meanwhile. Here the output (~2.5 MB) fills the pipe and the shell waits
    on it, still running, while a writer (what the next sync does) opens the file and the sync's
    lock is taken; then the whole output arrives."""
    lock_file = warehouse.with_name(warehouse.name + ".lock")
    lock_file.touch()  # a CLI sync ran here: the shell holds its lock shared while a statement runs
    rows = 300_000
    query = f"SELECT i, 'name-' || i AS name FROM range({rows}) t(i) ORDER BY i"
    shell = subprocess.Popen(
        shell_argv(warehouse, "-o", "csv", query),
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert shell.stdout is not None and shell.stderr is not None
    try:
        first = shell.stdout.readline()  # the output began: the rest waits in the pipe
        assert shell.poll() is None
        with duckdb.connect(str(warehouse)) as writer:
            writer.sql("INSERT INTO c1.users (user_id) VALUES ('u3')")
        with lock_file.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises BlockingIOError if still held
        assert shell.poll() is None  # still writing: nothing was read past the first line
        out = first + shell.stdout.read()
        err = shell.stderr.read()
        shell.wait(timeout=60)
    finally:
        if shell.poll() is None:
            shell.kill()
            shell.wait()
    assert (shell.returncode, err) == (0, "")
    lines = out.splitlines()
    assert (len(lines), lines[:2]) == (rows + 1, ["i,name", "0,name-0"])
    assert lines[-1] == f"{rows - 1},name-{rows - 1}"


class _LineCounter:
    """A stdout that keeps nothing but the count of lines written to it."""

    def __init__(self) -> None:
        self.lines = 0

    def write(self, text: str) -> int:
        self.lines += text.count("\n")
        return len(text)

    def flush(self) -> None:
        pass


@pytest.mark.parametrize("output_format", ["table", "csv", "json"])
def test_a_large_result_is_never_held_whole(warehouse: Path, output_format: str, monkeypatch):
    """5 million rows of two columns took 2.2 GB (table, JSON) and 1.2 GB (CSV): the whole result
    was fetched, then formatted whole. Spooled in batches (here of 1,000 rows), the Python heap
    holds about one batch whatever the result's size: 40,000 rows peaked at 6 (CSV) to 16 (JSON)
    MiB of Python objects before, under 1 MiB now, as do 80,000 (tracemalloc counts Python's
    allocations only: deterministic, unlike RSS)."""
    monkeypatch.setattr(sql_shell, "FETCH_ROWS", 1000)
    rows = 40_000
    parser = argparse.ArgumentParser()
    sql_shell.add_sql_arguments(parser)
    query = f"SELECT i, 'name-' || i AS name FROM range({rows}) t(i) ORDER BY i"
    options = parser.parse_args(["--warehouse", str(warehouse), "-o", output_format, query])
    out = _LineCounter()
    tracemalloc.start()
    try:
        code = sql_shell.run_sql(options, stdout=out)  # type: ignore[arg-type]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert code == 0
    assert out.lines == {"table": rows + 3, "csv": rows + 1, "json": 1}[output_format]
    assert peak < 3 * 2**20, f"{peak / 2**20:.1f} MiB of Python objects at the peak"


def test_intervals_are_iso_8601_durations_in_json_and_csv(capsys, warehouse: Path):
    """`now() - published_at` came out as Python's `str(timedelta)`, `1 day, 2:03:04.500000`, which no
    JSON or CSV reader parses as a duration. DuckDB hands a month to Python as 30 days."""
    query = (
        "SELECT INTERVAL '90 minutes' AS a, INTERVAL '1 day 2 hours 3 minutes 4.5 seconds' AS b, "
        "INTERVAL '-1 second' AS c, INTERVAL '0 seconds' AS d, [INTERVAL '1 month'] AS e, "
        "INTERVAL '-1 day 1 second' AS f, INTERVAL '2 days' AS g, INTERVAL '1 microsecond' AS h"
    )
    code, out, _ = sql(capsys, "--warehouse", str(warehouse), "-o", "json", query)
    assert code == 0
    assert json.loads(out) == [
        {
            "a": "PT1H30M",
            "b": "P1DT2H3M4.5S",
            "c": "-PT1S",
            "d": "PT0S",
            "e": ["P30D"],
            "f": "-PT23H59M59S",
            "g": "P2D",
            "h": "PT0.000001S",
        }
    ]
    code, out, _ = sql(capsys, "--warehouse", str(warehouse), "-o", "csv", query)
    assert code == 0
    assert out.splitlines() == [
        "a,b,c,d,e,f,g,h",
        'PT1H30M,P1DT2H3M4.5S,-PT1S,PT0S,"[""P30D""]",-PT23H59M59S,P2D,PT0.000001S',
    ]


def test_timestamps_are_rfc_3339_in_utc_with_z_in_json_and_csv(capsys, warehouse: Path):
    """A TIMESTAMP (the warehouse's `published_at`, UTC without a zone) came out as
    `2026-12-07T19:32:31.357208` in JSON and `2026-12-07 19:32:31.357208` in CSV: no offset, read as
    local time by most parsers; a TIMESTAMPTZ came out in the session's zone (`+00:00` here, `+01:00`
    elsewhere). Now both are UTC with `Z`, fractions as `baton -o json` writes them (0, 3 or 6 digits)."""
    query = (
        "SELECT TIMESTAMP '2026-12-07 19:32:31.357208' AS a, TIMESTAMP '2026-12-07 19:32:31.5' AS b, "
        "TIMESTAMPTZ '2026-12-07 21:32:31+02' AS c, [TIMESTAMP '2026-12-07 19:32:31'] AS d, "
        "DATE '2026-12-07' AS e, CAST(NULL AS TIMESTAMP) AS f"
    )
    code, out, _ = sql(capsys, "--warehouse", str(warehouse), "-o", "json", query)
    assert code == 0
    assert json.loads(out) == [
        {
            "a": "2026-12-07T19:32:31.357208Z",
            "b": "2026-12-07T19:32:31.500Z",
            "c": "2026-12-07T19:32:31Z",
            "d": ["2026-12-07T19:32:31Z"],
            "e": "2026-12-07",
            "f": None,
        }
    ]
    code, out, _ = sql(capsys, "--warehouse", str(warehouse), "-o", "csv", query)
    assert code == 0
    assert out.splitlines() == [
        "a,b,c,d,e,f",
        '2026-12-07T19:32:31.357208Z,2026-12-07T19:32:31.500Z,2026-12-07T19:32:31Z,"[""2026-12-07T19:32:31Z""]",2026-12-07,',
    ]
    code, out, _ = sql(capsys, "--warehouse", str(warehouse), query)  # the table, for people, as it was
    assert code == 0 and "| 2026-12-07 19:32:31.500000 |" in out


@pytest.mark.parametrize("query", ["", "  ", ";", " -- only a comment"])
def test_a_query_without_a_statement_is_one_clear_line(capsys, warehouse: Path, query: str):
    """`sql ""` said `argument query: is empty (leave it out to use the default)`: QUERY has no
    default, leaving it out starts the interactive shell. `sql ";"` printed nothing, exit 0."""
    code, out, err = sql(capsys, "--warehouse", str(warehouse), query)
    assert (code, out) == (2, "")
    assert err == (
        "baton-xmatters: error: the query holds no SQL statement: give one "
        '(baton-xmatters sql "SELECT ..."), or leave QUERY out for the interactive shell\n'
    )


def test_a_warehouse_without_a_published_sync_says_so(capsys, tmp_path: Path):
    """A first sync that failed after its extract (a blocking check) leaves the raw and staged tables
    for looking into it, and no `c1` tables: `SELECT ... FROM c1.users` said only `schema "c1" does
    not exist`, as if the warehouse were broken. Once a sync has published, no such note."""
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.sql("CREATE SCHEMA xmatters_raw; CREATE TABLE xmatters_raw.people (id VARCHAR)")
    code, out, err = sql(capsys, "--warehouse", str(warehouse), "SELECT count(*) FROM c1.users")
    assert (code, out) == (1, "")
    assert err.startswith("baton-xmatters: error: Catalog Error: ") and err.count("\n") == 1
    assert err.endswith(
        f"(no sync has published to {warehouse} yet: the c1 tables appear with the first successful sync)\n"
    )
    with duckdb.connect(str(warehouse)) as con:
        con.sql("CREATE SCHEMA c1; CREATE TABLE c1.sync_runs (sync_id VARCHAR)")
    code, _, err = sql(capsys, "--warehouse", str(warehouse), "SELECT count(*) FROM c1.users")
    assert code == 1 and "no sync has published" not in err
