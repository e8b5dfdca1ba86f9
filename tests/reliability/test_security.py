"""Secrets never written, TLS always verified, output readable by its owner only.

The leak search reads every byte the test's syncs wrote (stdout, stderr, log records, every file of
the data home: DuckDB warehouse, dlt state and load packages, Dagster's SQLite run and event
storage, compute logs, and the `.c1z` decompressed), decoding the compressed forms it knows.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import gzip
import io
import ssl
import stat
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import psutil
import pyarrow.parquet as pq
import pytest
import zstandard

from orchestration.cli import main
from pipelines.c1z.container import decompress_to_file
from simulator import Faults, Org, XmattersSimulator
from tests.orchestration.conftest import expected_from_org
from tests.pki import make_pki
from tests.reliability.conftest import RELIABILITY_SPEC, Baseline, subprocess_env
from tests.reliability.test_process_faults import CliProcess

SECRET = "xm-Secret-7f3a9c2e-do-not-leak"
WRONG_SECRET = "xm-Wrong-41b8d0aa-do-not-leak"


def secret_forms(username: str, secret: str) -> dict[str, bytes]:
    basic = base64.b64encode(f"{username}:{secret}".encode()).decode()
    return {
        "secret": secret.encode(),
        "basic auth token": basic.encode(),
        "base64 secret": base64.b64encode(secret.encode()),
    }


def _decoded(data: bytes) -> Iterator[bytes]:
    """The plain forms hidden in compressed or encoded bytes (zstd, gzip, zlib, base64+zlib)."""
    if data.startswith(b"\x28\xb5\x2f\xfd"):
        yield zstandard.ZstdDecompressor().decompressobj().decompress(data)
    if data.startswith(b"\x1f\x8b"):
        yield gzip.decompress(data)
    for candidate in (data, data.strip()):
        with contextlib.suppress(zlib.error):
            yield zlib.decompress(candidate)
        try:
            raw = base64.b64decode(candidate, validate=True)
        except (binascii.Error, ValueError):
            continue
        yield raw
        with contextlib.suppress(zlib.error):
            yield zlib.decompress(raw)


def _duckdb_values(path: Path) -> Iterator[bytes]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = con.sql("SELECT table_schema, table_name FROM information_schema.tables").fetchall()
        for schema, table in tables:
            for row in con.sql(f'SELECT * FROM "{schema}"."{table}"').fetchall():
                for value in row:
                    if value is None:
                        continue
                    text = value if isinstance(value, bytes) else str(value).encode()
                    yield text
                    yield from _decoded(text)
    finally:
        con.close()


def written_bytes(root: Path, skip: set[Path]) -> Iterator[tuple[str, bytes]]:
    """(where, bytes) for every file under `root` and every decoded form of it."""
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path in skip:
            continue
        data = path.read_bytes()
        yield str(path), data
        for plain in _decoded(data):
            yield f"{path} (decoded)", plain
        if data.startswith(b"C1ZF\x00"):
            out = io.BytesIO()
            decompress_to_file(path, out)
            yield f"{path} (decompressed)", out.getvalue()
        if data.startswith(b"PAR1"):
            yield f"{path} (parquet)", str(pq.read_table(path).to_pylist()).encode()
        if path.suffix == ".duckdb":
            for value in _duckdb_values(path):
                yield f"{path} (values)", value


def assert_not_leaked(
    forms: dict[str, bytes], root: Path, captured: dict[str, str], skip: set[Path] = frozenset()
) -> int:
    """Fail naming where any form of the secret was found; return how many blobs were searched."""
    searched = 0
    blobs = [(name, text.encode()) for name, text in captured.items()]
    for where, data in [*blobs, *written_bytes(root, set(skip))]:
        searched += 1
        for form_name, form in forms.items():
            assert form not in data, f"the {form_name} was written to {where}"
    return searched


def test_leak_search_finds_a_planted_secret(tmp_path: Path) -> None:
    """The search is only worth something if it finds what it looks for in every encoding it claims."""
    forms = secret_forms("user", SECRET)
    plants: list[Callable[[Path], None]] = [
        lambda d: (d / "plain.log").write_text(f"x {SECRET} y"),
        lambda d: (d / "blob.zst").write_bytes(zstandard.ZstdCompressor().compress(SECRET.encode() * 3)),
        lambda d: (d / "state.b64").write_bytes(base64.b64encode(zlib.compress(SECRET.encode()))),
        lambda d: (
            duckdb.connect(str(d / "w.duckdb"))
            .execute("CREATE TABLE t AS SELECT ? || range::VARCHAR AS v FROM range(5000)", [SECRET])
            .close()
        ),
    ]
    for index, plant in enumerate(plants):
        directory = tmp_path / str(index)
        directory.mkdir()
        plant(directory)
        with pytest.raises(AssertionError, match="the secret was written to"):
            assert_not_leaked(forms, directory, {})


def _assert_owner_only(*roots: Path) -> None:
    for root in roots:
        for path in [root, *root.rglob("*")]:
            if path.is_file():
                mode = stat.S_IMODE(path.stat().st_mode)
                assert mode & 0o077 == 0, f"{path} is mode {oct(mode)}"


def test_password_file_sync_writes_no_secret_and_owner_only_files(
    baseline: Baseline,
    make_simulator: Callable[..., XmattersSimulator],
    reliability_org: Org,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim = make_simulator(spec=RELIABILITY_SPEC, password=SECRET)
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    password_file = secrets_dir / "password"
    password_file.write_text(SECRET + "\n")
    baseline.warehouse.chmod(0o644)  # as an older version might have left it
    args = baseline.args(sim)
    del args[args.index("--password") : args.index("--password") + 2]
    code = main([*args, "--password-file", str(password_file)])
    out, err = capsys.readouterr()
    baseline.assert_synced(code, err, expected_from_org(reliability_org))
    searched = assert_not_leaked(
        secret_forms(sim.username, SECRET),
        tmp_path,
        {"stdout": out, "stderr": err, "log": caplog.text},
        skip={password_file},
    )
    assert searched > 20  # the search really covered the data home
    _assert_owner_only(baseline.home, baseline.sync_file.parent)


def test_env_password_sync_writes_no_secret(
    baseline: Baseline,
    make_simulator: Callable[..., XmattersSimulator],
    reliability_org: Org,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim = make_simulator(spec=RELIABILITY_SPEC, password=SECRET)
    monkeypatch.setenv("BATON_PASSWORD", SECRET)
    args = baseline.args(sim)
    del args[args.index("--password") : args.index("--password") + 2]
    code = main(args)
    out, err = capsys.readouterr()
    baseline.assert_synced(code, err, expected_from_org(reliability_org))
    assert_not_leaked(
        secret_forms(sim.username, SECRET), tmp_path, {"stdout": out, "stderr": err, "log": caplog.text}
    )


# The same fixture list as test_hostile_server.py's scrubbing test (`duplicates` pairs the
# signatures): pytest injects fixtures by parameter name, so each test lists the ones it uses.
def test_rejected_password_is_not_written_on_the_error_path(
    baseline: Baseline,
    make_simulator: Callable[..., XmattersSimulator],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim = make_simulator(spec=RELIABILITY_SPEC)
    args = baseline.args(sim)
    args[args.index("--password") + 1] = WRONG_SECRET
    code = main(args)
    out, err = capsys.readouterr()
    baseline.assert_failed_cleanly(code, err, "HTTP 401 from")
    assert_not_leaked(
        secret_forms(sim.username, WRONG_SECRET), tmp_path, {"stdout": out, "stderr": err, "log": caplog.text}
    )


# ---- TLS ----------------------------------------------------------------------------------------


@pytest.fixture
def https_simulator(
    make_simulator: Callable[..., XmattersSimulator], tmp_path: Path
) -> tuple[XmattersSimulator, str, Path]:
    """The simulator's listening socket wrapped in TLS with a private CA: (sim, https base URL, CA bundle)."""
    pki = make_pki(tmp_path / "certs")
    bundle = pki.ca_pem
    sim = make_simulator(spec=RELIABILITY_SPEC)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.cert_pem, pki.key_pem)
    server = sim._server  # the simulator serves plain http; TLS is added around its socket for this test
    assert server is not None
    server.socket = context.wrap_socket(server.socket, server_side=True)
    return sim, sim.base_url.replace("http://", "https://"), bundle


def test_tls_private_ca_fails_without_the_bundle(
    baseline: Baseline,
    https_simulator: tuple[XmattersSimulator, str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Verification stays on: an empty CURL_CA_BUNDLE (requests' old off switch) changes nothing."""
    sim, base_url, _ = https_simulator
    monkeypatch.setenv("CURL_CA_BUNDLE", "")
    code = main(baseline.args(sim, base_url=base_url))
    line = baseline.assert_failed_cleanly(
        code, capsys.readouterr().err, f"TLS verification failed for {base_url}/groups?", "--ca-bundle"
    )
    assert "gave up" not in line  # a certificate problem is not retried
    assert sim.request_count == 0  # no HTTP request (and no password) went over the unverified connection


def test_tls_private_ca_works_with_ca_bundle(
    baseline: Baseline,
    https_simulator: tuple[XmattersSimulator, str, Path],
    reliability_org: Org,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sim, base_url, bundle = https_simulator
    code = main(baseline.args(sim, "--ca-bundle", str(bundle), base_url=base_url))
    baseline.assert_synced(code, capsys.readouterr().err, expected_from_org(reliability_org))
    assert sim.request_count > 0


def test_password_file_secret_is_in_no_process_environment_or_argv(
    baseline: Baseline,
    make_simulator: Callable[..., XmattersSimulator],
    reliability_org: Org,
    tmp_path: Path,
) -> None:
    """With `--password-file`, no process of the sync (the CLI, the workers, anything Dagster starts)
    carries the password in its environment or its argv (`/proc/<pid>/environ`, `/proc/<pid>/cmdline`),
    sampled every few milliseconds while the sync runs."""
    sim = make_simulator(spec=RELIABILITY_SPEC, password=SECRET, faults=Faults(latency_s=0.05))
    password_file = tmp_path / "password"
    password_file.write_text(SECRET + "\n")
    args = baseline.args(sim)
    del args[args.index("--password") : args.index("--password") + 2]
    run = CliProcess([*args, "--password-file", str(password_file)], subprocess_env(baseline.home), tmp_path)
    cli = psutil.Process(run.proc.pid)
    seen: set[int] = set()
    leaks: list[str] = []
    while run.proc.poll() is None:
        try:
            processes = [cli, *cli.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        for process in processes:
            for name in ("environ", "cmdline"):
                try:
                    raw = (Path("/proc") / str(process.pid) / name).read_bytes()
                except OSError:
                    continue
                seen.add(process.pid)
                if SECRET.encode() in raw:
                    leaks.append(f"{name} of pid {process.pid} ({process.name()})")
        time.sleep(0.005)
    code, _, err = run.finish()
    baseline.assert_synced(code, err, expected_from_org(reliability_org))
    assert len(seen) >= 3, "the sampling saw the CLI and its two workers"
    assert leaks == []
