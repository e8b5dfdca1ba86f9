"""The sources' digest the image is stamped with: it changes with any copied byte or path, and with
nothing else (bytecode caches, files the image does not copy, where the tree lies)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration.service.source_digest import COPIED, source_digest, source_files

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    (root / "orchestration" / "service").mkdir(parents=True)
    (root / "pipelines" / "c1z").mkdir(parents=True)
    (root / "expectations").mkdir()
    (root / "simulator").mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "x"\n')
    (root / "README.md").write_text("# x\n")
    (root / "orchestration" / "__init__.py").write_text("")
    (root / "orchestration" / "service" / "run.py").write_text("print('run')\n")
    (root / "pipelines" / "c1z" / "schema.sql").write_text("select 1;\n")
    (root / "expectations" / "suite.py").write_text("SUITE = 1\n")
    (root / "simulator" / "server.py").write_text("PORT = 0\n")
    return root


def test_the_same_tree_gives_the_same_digest_wherever_it_lies(tree: Path, tmp_path: Path):
    first = source_digest(tree)
    assert len(first) == 64 and int(first, 16) >= 0
    assert source_digest(tree) == first
    copy = shutil.copytree(tree, tmp_path / "elsewhere")
    assert source_digest(copy) == first


def test_one_changed_byte_changes_the_digest(tree: Path):
    before = source_digest(tree)
    run = tree / "orchestration" / "service" / "run.py"
    run.write_bytes(run.read_bytes().replace(b"run", b"rum"))
    assert source_digest(tree) != before


@pytest.mark.parametrize("relative", ["README.md", "pyproject.toml", "pipelines/c1z/schema.sql"])
def test_a_byte_appended_to_any_copied_file_changes_the_digest(tree: Path, relative: str):
    before = source_digest(tree)
    with (tree / relative).open("ab") as file:
        file.write(b" ")
    assert source_digest(tree) != before


def test_a_renamed_added_or_removed_file_changes_the_digest(tree: Path):
    before = source_digest(tree)
    (tree / "simulator" / "server.py").rename(tree / "simulator" / "serve.py")
    renamed = source_digest(tree)
    assert renamed != before
    (tree / "simulator" / "new.py").write_text("")
    added = source_digest(tree)
    assert added not in (before, renamed)
    (tree / "simulator" / "new.py").unlink()
    assert source_digest(tree) == renamed


def test_bytecode_caches_and_files_the_image_does_not_copy_leave_it_alone(tree: Path):
    before = source_digest(tree)
    cache = tree / "orchestration" / "service" / "__pycache__"
    cache.mkdir()
    (cache / "run.cpython-311.pyc").write_bytes(b"\x00bytecode")
    (cache / "stray.txt").write_text("anything under __pycache__")
    (tree / "simulator" / "server.cpython-311.pyc").write_bytes(b"\x00bytecode")
    (tree / "tests").mkdir()
    (tree / "tests" / "test_x.py").write_text("")
    (tree / "x.egg-info").mkdir()
    assert source_digest(tree) == before
    assert all("__pycache__" not in path and not path.endswith(".pyc") for path in source_files(tree))


def test_a_copied_path_that_is_missing_is_an_error(tree: Path):
    shutil.rmtree(tree / "expectations")
    with pytest.raises(FileNotFoundError, match="expectations"):
        source_digest(tree)


def test_the_command_the_dockerfile_runs_prints_the_trees_digest():
    """`python3 -B -m orchestration.service.source_digest /src` in the build stage, here on the tree."""
    printed = subprocess.run(
        [sys.executable, "-B", "-m", "orchestration.service.source_digest", str(ROOT)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert printed == source_digest(ROOT) + "\n"
    assert {path.split("/")[0] for path in source_files(ROOT)} == set(COPIED)
