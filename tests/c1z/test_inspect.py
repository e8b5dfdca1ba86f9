"""`baton-xmatters inspect`: baton's columns on the console, protojson shapes as json, one-line errors."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from pipelines.c1z.inspect import add_inspect_arguments, run_inspect
from pipelines.c1z.rows import GrantRow, GroupRow, UserRow
from pipelines.c1z.writer import write_c1z
from tests.c1z.conftest import EXPANDED, UNEXPANDED


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser()
    add_inspect_arguments(parser)
    code = run_inspect(parser.parse_args(list(argv)))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def ours(tmp_path: Path) -> Path:
    path = tmp_path / "ours.c1z"
    write_c1z(
        path,
        users=[UserRow("u1", "Zoë", "ENABLED"), UserRow("u2", "Ann", "DISABLED")],
        groups=[GroupRow("g1", "Ops"), GroupRow("g2", "Child")],
        grants=[GrantRow("g1", "user", "u1"), GrantRow("g1", "group", "g2", expandable=True)],
        sync_id="2ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    )
    return path


def test_stats_json(capsys: pytest.CaptureFixture[str], ours: Path) -> None:
    code, out, _ = _run(capsys, "-f", str(ours), "stats", "-o", "json")
    assert code == 0
    assert json.loads(out) == {"resource_types": {"user": 2, "group": 2}, "entitlements": 2, "grants": 2}


def test_stats_console(capsys: pytest.CaptureFixture[str], samples: Path) -> None:
    code, out, _ = _run(capsys, "-f", str(UNEXPANDED), "stats")
    lines = [line.split(" | ") for line in out.splitlines()]
    assert code == 0 and [c.strip() for c in lines[0]] == ["Type", "Count"]
    counts = {k.strip(): int(v) for k, v in lines[1:]}
    assert counts == {"entitlements": 342, "grants": 2909, "group": 21, "project": 100, "resource_types": 4,
                      "role": 100, "user": 1000}  # fmt: skip


def test_grants_console_and_json(capsys: pytest.CaptureFixture[str], ours: Path) -> None:
    code, out, _ = _run(capsys, "-f", str(ours), "grants")
    rows = [[c.strip() for c in line.split(" | ")] for line in out.splitlines()]
    assert code == 0 and rows[0] == ["Resource Type", "Resource", "Entitlement", "Principal"]
    assert rows[1:] == [
        ["Group", "Ops", "Ops Group Member", "Zoë"],
        ["Group", "Ops", "Ops Group Member", "Child"],
    ]
    code, out, _ = _run(capsys, "-f", str(ours), "grants", "-o", "json")
    grants = json.loads(out)["grants"]
    assert [g["grant"]["id"] for g in grants] == ["group:g1:member:user:u1", "group:g1:member:group:g2"]
    assert (
        grants[1]["grant"]["annotations"][0]["@type"] == "type.googleapis.com/c1.connector.v2.GrantExpandable"
    )
    assert grants[0]["principal"]["displayName"] == "Zoë" and grants[0]["resourceType"]["id"] == "group"


def test_resources_entitlements_types_syncs(capsys: pytest.CaptureFixture[str], ours: Path) -> None:
    _, out, _ = _run(capsys, "-f", str(ours), "resources", "--resource-type", "user")
    assert out.splitlines()[0].split(" | ")[:2] == ["ID", "Display Name"]
    assert [line.split(" | ")[0].strip() for line in out.splitlines()[1:]] == ["u1", "u2"]
    _, out, _ = _run(capsys, "-f", str(ours), "entitlements", "-o", "json")
    first = json.loads(out)["entitlements"][0]
    assert first["entitlement"]["slug"] == "member" and first["resource"]["displayName"] == "Ops"
    _, out, _ = _run(capsys, "-f", str(ours), "resource-types")
    assert "TRAIT_USER" in out and "TRAIT_GROUP" in out
    _, out, _ = _run(capsys, "-f", str(ours), "syncs", "-o", "json")
    (sync,) = json.loads(out)["syncs"]
    assert sync["id"] == "2ABCDEFGHIJKLMNOPQRSTUVWXYZ" and sync["syncType"] == "full" and sync["endedAt"]


def test_syncs_json_times_are_batons(capsys: pytest.CaptureFixture[str], samples: Path) -> None:
    """`inspect syncs -o json` wrote `2025-12-17T16:31:25.057185+00:00`; `baton -f <this file> syncs -o
    json` (/work/shared/interop/baton-cli, C1's own CLI) writes protobuf's JSON: UTC with `Z`."""
    code, out, _ = _run(capsys, "-f", str(UNEXPANDED), "syncs", "-o", "json")
    (sync,) = json.loads(out)["syncs"]
    assert code == 0 and sync["startedAt"] == "2025-12-17T16:31:25.057185Z" and "endedAt" not in sync
    code, out, _ = _run(capsys, "-f", str(EXPANDED), "syncs", "-o", "json")
    (sync,) = json.loads(out)["syncs"]
    times = (sync["startedAt"], sync["endedAt"])
    assert times == ("2025-12-17T16:31:25.057185Z", "2025-12-17T16:33:36.381422Z")
    code, out, _ = _run(capsys, "-f", str(EXPANDED), "syncs")  # the table, for people, as it was
    assert code == 0 and "2025-12-17T16:31:25.057185+00:00" in out


def test_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path, ours: Path) -> None:
    bad = tmp_path / "bad.c1z"
    bad.write_bytes(b"nonsense")
    code, out, err = _run(capsys, "-f", str(bad), "stats")
    assert (code, out) == (1, "") and err.startswith("baton-xmatters: error: ") and err.count("\n") == 1
    code, _, err = _run(capsys, "-f", str(ours), "stats", "--sync-id", "nope")
    assert code == 1 and "no sync with id 'nope'" in err


def test_an_annotation_of_an_unknown_type_is_shown_opaque(
    capsys: pytest.CaptureFixture[str], ours: Path, tmp_path: Path
) -> None:
    """Newer SDKs add annotation types we do not define; the listing shows them instead of failing."""
    import sqlite3

    import zstandard
    from google.protobuf.any_pb2 import Any as AnyMessage

    from pipelines.c1z.container import decompress_to_file
    from pipelines.c1z.proto import pb

    db = tmp_path / "db"
    with db.open("wb") as out:
        decompress_to_file(ours, out)
    conn = sqlite3.connect(db)
    (data,) = conn.execute("select data from v1_resources where external_id = 'user:u1'").fetchone()
    resource = pb.Resource.FromString(data)
    url = "type.googleapis.com/c1.connector.v2.ExternalLink"
    unknown = AnyMessage(type_url=url, value=b"\x0a\x03abc")
    resource.annotations.append(unknown)
    conn.execute(
        "update v1_resources set data = ? where external_id = 'user:u1'", [resource.SerializeToString()]
    )
    conn.commit()
    conn.close()
    patched = tmp_path / "patched.c1z"
    patched.write_bytes(b"C1ZF\x00" + zstandard.ZstdCompressor().compress(db.read_bytes()))

    code, out, err = _run(capsys, "-f", str(patched), "resources", "-o", "json")
    assert code == 0, err
    listed = {item["resource"]["id"]["resource"]: item["resource"] for item in json.loads(out)["resources"]}
    annotations = listed["u1"]["annotations"]
    assert annotations[-1] == {"@type": url, "value": "CgNhYmM="}
    # the known annotations and the other fields still render as protojson
    assert annotations[0]["@type"].startswith("type.googleapis.com/c1.connector.v2.")
    assert listed["u1"]["displayName"] == "Zoë"
    assert listed["u2"]["displayName"] == "Ann"


def test_the_file_defaults_to_sync_c1z_as_baton(
    capsys: pytest.CaptureFixture[str], ours: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(capsys, "stats")
    assert code == 1 and err == "baton-xmatters: error: sync.c1z: no such file\n"
    (tmp_path / "sync.c1z").write_bytes(ours.read_bytes())
    code, out, _ = _run(capsys, "stats", "-o", "json")
    assert code == 0 and json.loads(out)["grants"] == 2


@pytest.mark.parametrize(("resource_type", "expected"), [("role", 394), ("group", 2120), ("user", 0)])
def test_grants_filtered_by_resource_type_as_baton(
    capsys: pytest.CaptureFixture[str], samples: Path, resource_type: str, expected: int
) -> None:
    """`baton grants -t role` lists 394 of the sample's 2909 grants, 2120 with `-t group`, none with
    `-t user` (counted with ../shared/interop/baton-cli/baton); the flag was accepted and ignored."""
    code, out, _ = _run(
        capsys, "-f", str(UNEXPANDED), "grants", "--resource-type", resource_type, "-o", "json"
    )
    grants = json.loads(out)["grants"]
    assert code == 0 and len(grants) == expected
    assert {g["resourceType"]["id"] for g in grants} <= {resource_type}
    code, out, _ = _run(capsys, "-f", str(UNEXPANDED), "grants", "--resource-type", resource_type)
    rows = [[c.strip() for c in line.split(" | ")] for line in out.splitlines()[1:]]
    assert code == 0 and len(rows) == expected
    assert {row[0] for row in rows} <= {resource_type.capitalize()}


_NOT_FILTERED = "--resource-type filters resources, entitlements and grants"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["resource-types", "--resource-type", "user"], f"{_NOT_FILTERED}, not 'resource-types'"),
        (["syncs", "--resource-type", "user"], f"{_NOT_FILTERED}, not 'syncs'"),
        (["stats", "--resource-type", "user"], f"{_NOT_FILTERED}, not 'stats'"),
        (
            ["syncs", "--sync-id", "2ABCDEFGHIJKLMNOPQRSTUVWXYZ"],
            "--sync-id does not apply to 'inspect syncs'",
        ),
    ],
)
def test_a_flag_the_listing_does_not_use_is_refused(
    capsys: pytest.CaptureFixture[str], ours: Path, argv: list[str], message: str
) -> None:
    """Each was accepted and ignored: `stats --resource-type user` printed every type's count."""
    code, out, err = _run(capsys, "-f", str(ours), *argv)
    assert (code, out) == (2, "")
    assert err.startswith(f"baton-xmatters: error: {message}") and err.count("\n") == 1
