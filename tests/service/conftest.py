"""Fixtures for service mode: a test CA, C1 client credentials, the fake C1, and the service as a process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.interop.conftest import c1_readers  # noqa: F401 - ConductorOne's readers
from tests.pki import TestPki, make_pki
from tests.service.fake_c1 import ClientCredentials, FakeC1, mint_credentials

BATON_XMATTERS = Path(sys.executable).with_name("baton-xmatters")


@pytest.fixture(autouse=True)
def _service_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """A service run in the test process touches `$BATON_XMATTERS_HOME/service.alive`: without a
    home that was `./var/service.alive` of the directory pytest ran in (the repository)."""
    monkeypatch.setenv("BATON_XMATTERS_HOME", str(tmp_path_factory.mktemp("home")))


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def credentials() -> ClientCredentials:
    return mint_credentials()


@pytest.fixture
def fake_c1(pki: TestPki, credentials: ClientCredentials) -> Iterator[FakeC1]:
    with FakeC1(pki, credentials) as c1:
        yield c1


@dataclass
class ServiceProcess:
    process: subprocess.Popen[bytes]
    log: Path
    home: Path

    def stop(self, timeout: float = 120.0) -> int:
        """SIGTERM, then the exit code; generous for a loaded machine (the loop may be finishing a
        heartbeat call, up to its 30 s deadline). A service still running is killed, and the test
        fails naming what it waited for, with the service's log."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(
                f"service still running {timeout:g} s after SIGTERM (killed):\n{self.output()}"
            ) from None

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def assert_secret_nowhere(secret: str, *places: Path) -> None:
    """Neither the secret nor its key part appears in any file under `places` (logs, data home, temp)."""
    needles = [secret.encode(), secret.rsplit(":", 1)[-1].encode()]
    scanned = 0
    for place in places:
        files = [place] if place.is_file() else [p for p in place.rglob("*") if p.is_file()]
        for path in files:
            data = path.read_bytes()
            scanned += 1
            for needle in needles:
                assert needle not in data, f"the client secret is in {path}"
    assert scanned > 0


def service_env(fake: FakeC1, sim, home: Path, pki: TestPki, **extra: str) -> dict[str, str]:
    """Exactly the documented variables (plus PATH/HOME and the data home)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "BATON_XMATTERS_HOME": str(home),
        "BATON_CLIENT_ID": fake.credentials.client_id,
        "BATON_CLIENT_SECRET": fake.credentials.client_secret,
        "BATON_HOST_ID": "test-host",
        "BATON_C1_API_HOST": fake.api_host,
        "SSL_CERT_FILE": str(pki.ca_pem),
        "BATON_BASE_URL": sim.base_url,
        "BATON_USERNAME": sim.username,
        "BATON_PASSWORD": sim.password,
    }
    env.update(extra)
    return env


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator:
    started: list[ServiceProcess] = []

    def start(env: dict[str, str], *args: str) -> ServiceProcess:
        log = tmp_path / f"service-{len(started)}.log"
        with open(log, "wb") as handle:
            process = subprocess.Popen(
                [str(BATON_XMATTERS), *args], env=env, stdout=handle, stderr=subprocess.STDOUT, cwd=tmp_path
            )
        service = ServiceProcess(process, log, Path(env["BATON_XMATTERS_HOME"]))
        started.append(service)
        return service

    yield start
    for service in started:
        if service.process.poll() is None:
            service.process.kill()
            service.process.wait()
