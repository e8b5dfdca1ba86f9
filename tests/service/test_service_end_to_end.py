"""Done-when of issue #19: the fake C1 and the simulator running, `baton-xmatters` with only the
documented variables receives a full-sync task, uploads a `.c1z` that reads back exactly, finishes
the task, and exits 0 on SIGTERM. Plus the protocol details the fake records."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from pipelines.c1z.proto.c1.connector.v2 import connector_pb2
from tests.orchestration.conftest import assert_sync_holds, expected_from_org
from tests.orchestration.test_sync_cli import published
from tests.service.conftest import assert_secret_nowhere, service_env
from tests.service.fake_c1 import CLIENT_ID, TENANT_HOST

TIMEOUT_S = 240


def dagster_runs(home: Path) -> list:
    from dagster import DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        return list(instance.get_runs())


def test_service_syncs_uploads_finishes_and_exits_on_sigterm(
    fake_c1, simulator, org, pki, tmp_path, start_service, c1_readers
):
    task = fake_c1.add_task()
    (tmp_path / "tmp").mkdir()
    env = service_env(fake_c1, simulator, tmp_path / "home", pki, BATON_C1Z_TEMP_DIR=str(tmp_path / "tmp"))
    service = start_service(env)
    assert fake_c1.state.wait_for(lambda s: any(f.task_id == task for f in s.finished), TIMEOUT_S), (
        service.output()
    )
    # keeps polling afterwards, at the interval the server gave
    count = fake_c1.state.methods().count("GetTask")
    assert fake_c1.state.wait_for(lambda s: [n for n, _ in s.calls].count("GetTask") >= count + 2, 10)
    started = time.monotonic()
    assert service.stop() == 0
    assert time.monotonic() - started < 10
    output = service.output()

    finish = fake_c1.finished_task(task)
    assert finish.WhichOneof("final_state") == "success", output
    assert finish.host_id == "test-host"

    # the call order: Hello, GetTask (the task), a first heartbeat, ..., UploadAsset, FinishTask
    methods = fake_c1.state.methods()
    assert methods[0] == "Hello"
    assert methods[1] == "GetTask"
    assert methods[2] == "Heartbeat"
    upload_at = methods.index("UploadAsset")
    assert set(methods[2:upload_at]) == {"Heartbeat"}
    # heartbeats go on until the task is finished: apart from them, FinishTask follows the upload
    others = [m for m in methods[upload_at:] if m != "Heartbeat"]
    assert others[:2] == ["UploadAsset", "FinishTask"]
    assert set(others[2:]) == {"GetTask"}
    finish_at = methods.index("FinishTask")
    assert "Heartbeat" not in methods[methods.index("GetTask", finish_at) :]
    for name, request in fake_c1.state.calls:
        carrier = request.metadata if name == "UploadAsset" else request
        assert carrier.host_id == "test-host", name

    hello = fake_c1.state.calls[0][1]
    assert hello.task_id == ""
    assert hello.connector_metadata.display_name == "xMatters"
    caps = hello.connector_metadata.capabilities
    assert list(caps.connector_capabilities) == [connector_pb2.CAPABILITY_SYNC]
    assert [c.resource_type.id for c in caps.resource_type_capabilities] == ["group", "user"]
    sync = [connector_pb2.CAPABILITY_SYNC]
    assert all(list(c.capabilities) == sync for c in caps.resource_type_capabilities)
    assert hello.build_info.package == "baton-xmatters"
    assert hello.os_info.kernel_arch and hello.os_info.hostname

    # the token: one request (cached), assertion claims as baton-sdk signs them
    (token_request,) = fake_c1.state.token_requests
    assert "problem" not in token_request
    assert token_request["headers"]["user-agent"] == "baton-c1-credential-provider"
    claims = token_request["claims"]
    assert claims["iss"] == claims["sub"] == CLIENT_ID
    assert claims["aud"] == TENANT_HOST  # the client id's host, not the override
    assert claims["nbf"] == claims["iat"] - 120 and claims["exp"] == claims["iat"] + 120
    assert "jti" not in claims
    assert token_request["header"]["alg"] == "EdDSA"
    form = {"client_id", "grant_type", "client_assertion_type", "client_assertion"}
    assert set(token_request["form_keys"]) == form

    # the upload: 512 KiB chunks, sha256 of the bytes; the bytes read back exactly
    (upload,) = fake_c1.state.uploads
    assert upload.task_id == task
    assert upload.sha256 == hashlib.sha256(upload.data).digest()
    assert all(size == 512 * 1024 for size in upload.chunk_sizes[:-1])
    assert 0 < upload.chunk_sizes[-1] <= 512 * 1024
    received = tmp_path / "received.c1z"
    received.write_bytes(upload.data)
    expected = expected_from_org(org)
    assert_sync_holds(received, expected)

    # ConductorOne's own reader validates every message and counts what the simulator holds
    code, report = c1_readers.validate(received)
    assert report["validation_failures"] == [] and report["dangling_references"] == {}
    assert code == 0
    assert report["resources_per_type"] == {"user": len(expected.users), "group": len(expected.groups)}
    assert report["grants"] == len(expected.grants)

    # history: a Dagster run started by C1 in the data home's instance, and a published sync
    runs = dagster_runs(tmp_path / "home" / "dagster")
    assert [(r.tags.get("baton-xmatters/started-by"), r.status.value) for r in runs] == [("c1", "SUCCESS")]
    # the published sync names what its file became (the task's upload), not the deleted temporary
    assert published(tmp_path / "home", "SELECT sync_file, sync_file_bytes FROM c1.sync_runs") == [
        (f"c1-upload:{task}", len(upload.data))
    ]
    assert runs[0].tags.get("baton-xmatters/c1-task") == task  # the Dagster run names its task too
    assert published(tmp_path / "home", "SELECT count(DISTINCT sync_id) FROM c1.history_users")[0][0] == 1

    assert (tmp_path / "home" / "service.alive").is_file()  # the container health check's file

    # the task's temporary directory is gone; the secret never shows
    assert not list((tmp_path / "tmp").iterdir())
    assert "secret-token" not in output
    assert_secret_nowhere(fake_c1.credentials.client_secret, service.log, tmp_path / "home", tmp_path / "tmp")
