"""The Dockerfile keeps the properties docs/deploy.md promises, and copies every package the wheel has.

The image itself is built and run by test_container.py where podman is available; this test runs
everywhere and catches drift (a new top-level package the image would miss, a root user, a lost
health check) before anyone builds.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from orchestration.service.source_digest import COPIED, IMAGE_FILE

ROOT = Path(__file__).resolve().parents[2]


def instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_multi_stage_slim_python_non_root_volume_health_entrypoint():
    steps = instructions()
    stages = [arg for op, arg in steps if op == "FROM"]
    assert stages == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE}"]
    assert ("ARG", "PYTHON_IMAGE=python:3.11-slim") in steps
    final = steps[[op for op, _ in steps].index("FROM", 1 + [op for op, _ in steps].index("FROM")) :]
    users = [arg for op, arg in final if op == "USER"]
    assert users == ["10001:10001"]
    assert ("VOLUME", '["/data"]') in final
    assert any(op == "HEALTHCHECK" and "orchestration.service.health" in arg for op, arg in final)
    assert ("ENTRYPOINT", '["baton-xmatters"]') in final
    assert any(op == "ENV" and "BATON_XMATTERS_HOME=/data" in arg for op, arg in final)
    # the runtime stage gets the venv only: no source tree, no pip cache
    assert [arg for op, arg in final if op == "COPY"] == [
        "--from=build /opt/baton-xmatters /opt/baton-xmatters"
    ]


def test_every_package_of_the_wheel_is_copied_into_the_build():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    included = {
        pattern.rstrip("*") for pattern in project["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    copied = {arg.split()[0] for op, arg in instructions() if op == "COPY" and not arg.startswith("--from")}
    assert included <= copied, f"not copied into the image: {included - copied}"
    assert re.search(r"pip install /src", (ROOT / "Dockerfile").read_text())


def test_the_build_stage_stamps_the_digest_of_exactly_what_it_copies():
    """The digest covers the COPYed sources (tests/service/test_container.py compares it with the
    tree's): a COPY the digest missed would let a stale image pass, one it has too would never match."""
    steps = instructions()
    build = steps[: [op for op, _ in steps].index("FROM", 1 + [op for op, _ in steps].index("FROM"))]
    copied = [name for op, arg in build if op == "COPY" for name in arg.split()[:-1]]
    assert sorted(copied) == sorted(COPIED)
    (run,) = [arg for op, arg in build if op == "RUN"]
    stamp = f"python3 -B -m orchestration.service.source_digest /src > {IMAGE_FILE}"
    assert stamp in run and run.index(stamp) < run.index("pip install /src")
