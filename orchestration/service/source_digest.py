"""A sha256 over the sources the container image is built from, so a stale image can be told apart.

The Dockerfile's build stage runs `python3 -m orchestration.service.source_digest /src` over what it
COPYed and writes the result to `/opt/baton-xmatters/SOURCE_DIGEST`; tests/service/test_container.py
computes the same over the working tree and runs the image only when the two agree. Without it the
test ran whatever image podman had, built from older code, and passed. Standard library only: the
build stage runs it with the base image's Python, before anything is installed.

The digest covers the sorted relative paths and the bytes of every file under COPIED, minus
`__pycache__` and `*.pyc` (the .dockerignore keeps those out of the build context too).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

# What the Dockerfile COPYs into /src (tests/service/test_dockerfile.py checks they agree).
COPIED = ("pyproject.toml", "README.md", "pipelines", "orchestration", "expectations", "simulator")
IMAGE_FILE = "/opt/baton-xmatters/SOURCE_DIGEST"


def source_files(root: Path) -> list[str]:
    """The copied files' paths relative to `root`, `/`-separated and sorted."""
    found: list[str] = []
    for name in COPIED:
        top = root / name
        if top.is_file():
            found.append(name)
            continue
        if not top.is_dir():
            raise FileNotFoundError(f"{top}: the image copies it, but it is not there")
        for path in top.rglob("*"):
            relative = path.relative_to(root)
            if path.is_file() and "__pycache__" not in relative.parts and path.suffix != ".pyc":
                found.append(relative.as_posix())
    return sorted(found)


def source_digest(root: Path) -> str:
    """sha256 hex over each file's relative path, length and bytes (the length keeps a byte moved
    from one file's end to the next file's start from giving the same digest)."""
    digest = hashlib.sha256()
    for relative in source_files(root):
        data = (root / relative).read_bytes()
        digest.update(f"{relative}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


if __name__ == "__main__":
    print(source_digest(Path(sys.argv[1] if len(sys.argv) > 1 else ".")))
