"""The container image, run for real: it syncs the simulator and serves the fake C1.

Needs podman and a built image (docs/deploy.md, "Building and testing here"): the image name is
`$BATON_XMATTERS_IMAGE`, default `localhost/baton-xmatters:test`. Skips, saying which, when
either is missing, and when the image was built from other sources than the working tree's (its
SOURCE_DIGEST, orchestration/service/source_digest.py): passing against an image built from older
code would hide a regression. With BATON_XMATTERS_REQUIRE_IMAGE=1 each of those fails instead. The
container shares the host's network (the fake C1 and the simulator listen
on 127.0.0.1) and gets the test CA as a read-only file; the data directory is a fresh named volume.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from orchestration.service.source_digest import IMAGE_FILE, source_digest
from tests.orchestration.conftest import assert_sync_holds, expected_from_org

ROOT = Path(__file__).resolve().parents[2]
IMAGE = os.environ.get("BATON_XMATTERS_IMAGE", "localhost/baton-xmatters:test")
REQUIRE_IMAGE = os.environ.get("BATON_XMATTERS_REQUIRE_IMAGE") == "1"
TIMEOUT_S = 300


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout, check=check)


def not_testable(reason: str) -> None:
    """Skip, or fail where the run must test the current image (BATON_XMATTERS_REQUIRE_IMAGE=1)."""
    if REQUIRE_IMAGE:
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def image_source_digest(image: str) -> str:
    """The SOURCE_DIGEST the image's build stage wrote, or "none" for an image built before it did."""
    cat = ["--network", "none", "--no-healthcheck", "--entrypoint", "cat", image, IMAGE_FILE]
    read = podman("run", "--rm", *cat, check=False)
    return read.stdout.strip() if read.returncode == 0 and read.stdout.strip() else "none"


@pytest.fixture
def image() -> str:
    if shutil.which("podman") is None:
        not_testable("podman is not installed (docs/deploy.md says how the image is built and tested)")
    if podman("image", "exists", IMAGE, check=False).returncode != 0:
        not_testable(f"image {IMAGE} is not built: `make image` (docs/deploy.md, 'Building and testing')")
    built, tree = image_source_digest(IMAGE), source_digest(ROOT)
    if built != tree:
        not_testable(f"image {IMAGE} is stale: built from sources {built}, the tree is {tree}; `make image`")
    return IMAGE


@pytest.mark.slow
def test_the_container_serves_c1_and_syncs_the_simulator(image, fake_c1, simulator, org, pki, tmp_path):
    name = f"baton-xmatters-test-{secrets.token_hex(4)}"
    volume = f"{name}-data"
    task = fake_c1.add_task()
    env = {
        "BATON_CLIENT_ID": fake_c1.credentials.client_id,
        "BATON_CLIENT_SECRET": fake_c1.credentials.client_secret,
        "BATON_HOST_ID": "container-host",
        "BATON_C1_API_HOST": fake_c1.api_host,
        "SSL_CERT_FILE": "/run/test-ca.pem",
        "BATON_BASE_URL": simulator.base_url,
        "BATON_USERNAME": simulator.username,
        "BATON_PASSWORD": simulator.password,
    }
    # values through the environment of `podman run` (`-e NAME`), not its argv
    podman_env = {**os.environ, **env}
    run = subprocess.run(
        ["podman", "run", "-d", "--name", name, "--network", "host", "-v", f"{volume}:/data"]
        + ["-v", f"{pki.ca_pem}:/run/test-ca.pem:ro"]
        + [arg for key in env for arg in ("-e", key)]
        + [image],
        capture_output=True,
        text=True,
        timeout=120,
        env=podman_env,
        check=True,
    )
    assert run.stdout.strip()
    try:
        done = fake_c1.state.wait_for(lambda s: any(f.task_id == task for f in s.finished), TIMEOUT_S)
        logs = podman("logs", name, check=False).stdout + podman("logs", name, check=False).stderr
        assert done, logs
        assert fake_c1.finished_task(task).WhichOneof("final_state") == "success", logs
        health = podman("healthcheck", "run", name, check=False)
        assert health.returncode == 0, health.stdout + health.stderr
        podman("stop", "--time", "30", name, timeout=60)
        state = podman("inspect", name, "--format", "{{.State.ExitCode}}").stdout.strip()
        assert state == "0", logs
        logs = podman("logs", name).stdout + podman("logs", name).stderr
    finally:
        podman("rm", "--force", name, check=False)
        podman("volume", "rm", "--force", volume, check=False)

    (upload,) = fake_c1.state.uploads
    received = tmp_path / "received.c1z"
    received.write_bytes(upload.data)
    assert_sync_holds(received, expected_from_org(org))
    assert fake_c1.state.calls[0][1].host_id == "container-host"
    assert "uploaded sync.c1z" in logs
    assert fake_c1.credentials.client_secret not in logs
