"""The client pieces in-process against the fake C1: multi-chunk uploads, a cut stream retried,
token caching and refresh, credential parsing; quicker than a whole service run."""

from __future__ import annotations

import hashlib
import os

import grpc
import pytest

from orchestration.service.access_token import TokenSource, audience
from orchestration.service.client import CHUNK_BYTES, BatonClient, CallError
from orchestration.service.credentials import CredentialError, parse_client_id, parse_credentials
from orchestration.service.tls import grpc_root_certificates, http_context


def client_for(fake, clock=None) -> tuple[BatonClient, TokenSource]:
    env = {"SSL_CERT_FILE": str(fake.pki.ca_pem)}
    credentials = parse_credentials(fake.credentials.client_id, fake.credentials.client_secret)
    tokens = TokenSource(credentials, fake.api_host, http_context(env), **({"clock": clock} if clock else {}))
    return BatonClient(fake.api_host, "unit-host", tokens, grpc_root_certificates(env), "unit"), tokens


def test_upload_sends_512k_chunks_and_retries_a_cut_stream_from_the_start(fake_c1, tmp_path):
    payload = os.urandom(2 * CHUNK_BYTES + 12345)
    path = tmp_path / "big.c1z"
    path.write_bytes(payload)
    fake_c1.state.cut_uploads = 1
    client, _ = client_for(fake_c1)
    try:
        digest = client.upload("T" * 27, path)
    finally:
        client.close()
    assert digest == hashlib.sha256(payload).hexdigest()
    assert fake_c1.state.cut == 1
    (upload,) = fake_c1.state.uploads
    assert upload.data == payload
    assert upload.chunk_sizes == [CHUNK_BYTES, CHUNK_BYTES, 12345]
    assert upload.sha256 == hashlib.sha256(payload).digest()


def test_upload_gives_up_after_three_attempts(fake_c1, tmp_path):
    path = tmp_path / "small.c1z"
    path.write_bytes(b"x" * 100)
    fake_c1.state.cut_uploads = 5
    client, _ = client_for(fake_c1)
    try:
        with pytest.raises(CallError) as failure:
            client.upload("T" * 27, path)
    finally:
        client.close()
    assert failure.value.code == grpc.StatusCode.UNAVAILABLE
    assert fake_c1.state.cut == 3 and fake_c1.state.uploads == []


def test_the_token_is_reused_until_ten_seconds_before_it_expires(fake_c1):
    now = [1000.0]
    fake_c1.state.token_expires_in = 60
    client, tokens = client_for(fake_c1, clock=lambda: now[0])
    try:
        first = tokens.authorization()
        now[0] += 49
        assert tokens.authorization() == first
        now[0] += 1.5  # 9.5 s left
        second = tokens.authorization()
        assert second != first and second.startswith("Bearer ")
        client.get_task()  # the new token is accepted
    finally:
        client.close()
    assert len(fake_c1.state.token_requests) == 2


def test_a_wrong_ca_is_a_tls_error_not_a_refusal(fake_c1, tmp_path, pki):
    from tests.pki import make_pki

    other = make_pki(tmp_path / "other")
    env = {"SSL_CERT_FILE": str(other.ca_pem)}
    credentials = parse_credentials(fake_c1.credentials.client_id, fake_c1.credentials.client_secret)
    tokens = TokenSource(credentials, fake_c1.api_host, http_context(env))
    client = BatonClient(fake_c1.api_host, "h", tokens, grpc_root_certificates(env), "unit")
    try:
        with pytest.raises(CallError) as failure:
            client.get_task()
    finally:
        client.close()
    assert failure.value.code == grpc.StatusCode.UNAVAILABLE  # retried once the service has connected
    assert failure.value.certificate  # a set-up error before that (Service.hello)
    assert failure.value.message.startswith(
        f"TLS certificate of {fake_c1.api_host} failed verification: unable to get local issuer certificate; "
    )


def test_a_grpc_certificate_that_fails_verification_at_start_up_is_a_set_up_error(fake_c1, tmp_path):
    """The token endpoint's certificate verifies but gRPC's does not (grpcio without SSL_CERT_FILE's
    roots): the first Hello is a set-up error naming the host, not an outage retried for good."""
    import threading

    from orchestration.service.loop import Service, ServiceSetupError

    env = {"SSL_CERT_FILE": str(fake_c1.pki.ca_pem)}
    credentials = parse_credentials(fake_c1.credentials.client_id, fake_c1.credentials.client_secret)
    tokens = TokenSource(credentials, fake_c1.api_host, http_context(env))
    client = BatonClient(fake_c1.api_host, "h", tokens, None, "unit")  # grpcio's own roots only
    try:
        with pytest.raises(ServiceSetupError) as failure:
            Service(client, {}, str(tmp_path), threading.Event()).hello()
    finally:
        client.close()
    assert str(failure.value) == (
        f"TLS certificate of {client.target} failed verification: CERTIFICATE_VERIFY_FAILED; check "
        "BATON_C1_API_HOST (or the host in BATON_CLIENT_ID), and for a private CA, SSL_CERT_FILE"
    )
    assert fake_c1.state.calls == []  # no call reached the service


@pytest.mark.parametrize(
    ("raw", "host"),
    [("a@tenant.conductor.one/x", "tenant.conductor.one"), ("a@h:8443/x/y", "h:8443"), ("a@b@c/d", "b@c")],
)
def test_client_id_is_split_as_baton_sdk_does(raw, host):
    assert parse_client_id(raw).token_host == host


@pytest.mark.parametrize("raw", ["no-at/x", "a@no-slash", "a@/x"])
def test_a_malformed_client_id_is_named(raw):
    with pytest.raises(CredentialError, match="--client-id/BATON_CLIENT_ID is malformed"):
        parse_client_id(raw)


def test_audience_drops_the_port():
    assert audience("tenant.conductor.one:443") == "tenant.conductor.one"
    assert audience("tenant.conductor.one") == "tenant.conductor.one"


def test_a_token_endpoint_outage_is_retryable_a_4xx_is_a_refusal(fake_c1):
    client, _ = client_for(fake_c1)
    try:
        fake_c1.state.token_status = 503
        with pytest.raises(CallError) as outage:
            client.get_task()
        assert outage.value.code == grpc.StatusCode.UNAVAILABLE
        assert outage.value.message.endswith("/auth/v1/token answered HTTP 503")
        fake_c1.state.token_status = 403
        with pytest.raises(CallError) as refusal:
            client.get_task()
        assert refusal.value.code == grpc.StatusCode.UNAUTHENTICATED
        assert "refused the client credentials (HTTP 403)" in refusal.value.message
        fake_c1.state.token_status = 200
        client.get_task()
    finally:
        client.close()


def test_a_sync_process_that_cannot_start_fails_the_task_not_the_service(fake_c1, tmp_path):
    import threading

    from orchestration.service.loop import Service
    from pipelines.c1z.proto.c1.connectorapi.baton.v1 import baton_pb2 as baton
    from tests.service.fake_c1 import task_id

    def cannot_start(options, pass_fds, task):
        raise OSError(12, "Cannot allocate memory")

    client, _ = client_for(fake_c1)
    task = baton.Task(id=task_id(), sync_full=baton.Task.SyncFullTask())
    try:
        Service(client, {}, str(tmp_path), threading.Event(), start_sync=cannot_start).handle(task, None)
    finally:
        client.close()
    finished = fake_c1.finished_task(task.id)
    assert finished.status.message == "cannot start the sync process: [Errno 12] Cannot allocate memory"
    assert finished.status.code == grpc.StatusCode.UNKNOWN.value[0]
    assert list(tmp_path.iterdir()) == []  # the task's directory is gone


class _EndlessSync:
    """Stands in for the sync process (its stopping is what is under test, not the sync)."""

    def __init__(self) -> None:
        self.stopped = False

    def poll(self, timeout: float):
        import time

        time.sleep(timeout)
        return None

    def stop(self):
        from orchestration.service.sync_task import SyncResult

        self.stopped = True
        return SyncResult(143, None)


def test_ten_failed_heartbeats_in_a_row_cancel_the_sync(fake_c1, tmp_path, monkeypatch):
    import threading

    from orchestration.service import loop
    from pipelines.c1z.proto.c1.connectorapi.baton.v1 import baton_pb2 as baton
    from tests.service.fake_c1 import task_id

    monkeypatch.setattr(loop, "MIN_HEARTBEAT_S", 0.01)
    fake_c1.state.next_heartbeat_s = 0.02
    fake_c1.state.fail_heartbeats_after = 2
    sync = _EndlessSync()
    client, _ = client_for(fake_c1)
    task = baton.Task(id=task_id(), sync_full=baton.Task.SyncFullTask())
    try:
        loop.Service(client, {}, str(tmp_path), threading.Event(), start_sync=lambda o, fds, t: sync).handle(
            task, None
        )
    finally:
        client.close()
    assert sync.stopped
    assert fake_c1.state.heartbeats[task.id] == 2 + loop.MAX_HEARTBEAT_FAILURES
    finished = fake_c1.finished_task(task.id)
    assert finished.status.code == grpc.StatusCode.CANCELLED.value[0]
    assert finished.status.message == "sync stopped: 10 heartbeats failed in a row"
    assert fake_c1.state.uploads == []


@pytest.mark.parametrize(
    ("api_host", "target"),
    [("tenant.conductor.one", "tenant.conductor.one:443"), ("localhost:8443", "localhost:8443")],
)
def test_grpc_address_defaults_to_port_443(api_host, target):
    from orchestration.service.client import grpc_target

    assert grpc_target(api_host) == target


def test_settings_are_declared_once_flags_win_over_variables():
    import argparse

    from orchestration.service.settings import ServiceSettings, add_service_arguments, read_settings
    from pipelines.xmatters.settings_table import declared

    parser = argparse.ArgumentParser()
    add_service_arguments(parser)
    flags = {s.spec.flag for s in declared(ServiceSettings) if s.spec.flag}
    assert flags == {"--client-id", "--client-secret", "--c1z-temp-dir"}
    assert all(s.spec.env and s.spec.env.startswith("BATON_") for s in declared(ServiceSettings))
    env = {"BATON_CLIENT_ID": "env-id", "BATON_CLIENT_SECRET": "env-secret", "BATON_HOST_ID": "h"}
    settings = read_settings(parser.parse_args(["--client-id", "flag-id"]), env)
    assert (settings.client_id, settings.client_secret, settings.host_id) == ("flag-id", "env-secret", "h")
    assert settings.enabled and "env-secret" not in repr(settings)
    assert not read_settings(parser.parse_args([]), {}).enabled


def test_a_task_of_a_type_unknown_to_this_build_is_finished_unimplemented(fake_c1, tmp_path):
    """C1 may hand out a task type newer than our protos: it arrives with its id and no known type.
    It was taken for "no task" and never finished; baton-sdk finishes it ("unsupported task type")."""
    import threading

    from orchestration.service.loop import Service

    unknown = fake_c1.add_task_of_unknown_type()
    later = fake_c1.add_task("revoke")
    fake_c1.state.next_poll_s = 0.01
    client, _ = client_for(fake_c1)
    stop = threading.Event()
    service = threading.Thread(target=Service(client, {}, str(tmp_path), stop).run, daemon=True)
    service.start()
    try:
        assert fake_c1.state.wait_for(lambda s: any(f.task_id == later for f in s.finished), 60)
    finally:
        stop.set()
        service.join(60)
        client.close()
    finished = fake_c1.finished_task(unknown)
    assert finished is not None, "the task of an unknown type was never finished"
    assert finished.status.code == grpc.StatusCode.UNIMPLEMENTED.value[0]
    assert finished.status.message == (
        "baton-xmatters is a read-only connector: task type unknown to this version of baton-xmatters "
        "is not supported"
    )
    assert finished.error.non_retryable
    assert [f.task_id for f in fake_c1.state.finished] == [unknown, later]


def test_a_stopped_upload_to_a_slow_tenant_ends_at_once(fake_c1, tmp_path):
    """SIGTERM during an upload to a slow C1: the stream was only ended by no longer yielding chunks,
    so the call lasted until C1 had read every chunk already buffered (minutes for a slow tenant,
    the upload timeout for a stalled one: past Kubernetes' grace period, no FinishTask). It is now
    cancelled, as baton-sdk's context cancellation does."""
    import threading
    import time

    path = tmp_path / "big.c1z"
    path.write_bytes(os.urandom(24 * CHUNK_BYTES))
    fake_c1.state.upload_chunk_delay_s = 2.0
    client, _ = client_for(fake_c1)
    stop = threading.Event()
    outcome: list[BaseException | str] = []

    def upload() -> None:
        try:
            outcome.append(client.upload("T" * 27, path, stop.is_set))
        except CallError as exc:
            outcome.append(exc)

    uploading = threading.Thread(target=upload, daemon=True)
    uploading.start()
    try:
        assert fake_c1.state.wait_for(lambda s: s.chunks_received >= 1, 60)
        stop.set()
        stopped = time.monotonic()
        uploading.join(120)
        took = time.monotonic() - stopped
    finally:
        client.close()
    (error,) = outcome
    assert isinstance(error, CallError), error
    assert error.code == grpc.StatusCode.CANCELLED
    assert took < 8, f"the upload went on {took:.0f} s after the stop"  # C1 reads a chunk per 2 s
    assert fake_c1.state.uploads == []


def _run_until_stopped(target, stop, started) -> float:
    """Runs `target` in a thread; once `started()` holds, sets `stop` (SIGTERM's event) and returns
    how long `target` then took to return."""
    import threading
    import time

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    assert started(), "the awaited call never came"
    stop.set()
    stopped = time.monotonic()
    thread.join(120)
    assert not thread.is_alive()
    return time.monotonic() - stopped


def test_sigterm_while_the_tenant_hangs_a_poll_stops_at_once(fake_c1, tmp_path):
    """A tenant that stopped answering (dropped packets): SIGTERM waited for the GetTask deadline
    (30 s), past `podman stop`'s 10 s; baton-sdk's cancelled context ends the call at once."""
    import threading

    from orchestration.service.loop import Service

    fake_c1.state.hang_s["GetTask"] = 20.0
    client, _ = client_for(fake_c1)
    stop = threading.Event()
    try:
        took = _run_until_stopped(
            Service(client, {}, str(tmp_path), stop).run,
            stop,
            lambda: fake_c1.state.wait_for(lambda s: "GetTask" in [n for n, _ in s.calls], 60),
        )
    finally:
        client.close()
    assert took < 8, f"the service took {took:.0f} s to stop"  # the hung GetTask answers after 20 s


def test_sigterm_mid_sync_while_the_tenant_hangs_stops_within_seconds(fake_c1, tmp_path, monkeypatch):
    """Mid-sync, the same tenant cost one hung FinishTask (30 s) plus the heartbeat in flight (up to
    30 s more): a minute, Kubernetes' whole grace period. The heartbeat is now cancelled and the
    CANCELLED FinishTask, still sent as baton-sdk does, gets a few seconds."""
    import threading

    from orchestration.service import loop
    from pipelines.c1z.proto.c1.connectorapi.baton.v1 import baton_pb2 as baton
    from tests.service.fake_c1 import task_id

    monkeypatch.setattr(loop, "MIN_HEARTBEAT_S", 0.01)
    fake_c1.state.next_heartbeat_s = 0.05
    sync = _EndlessSync()
    client, _ = client_for(fake_c1)
    stop = threading.Event()
    task = baton.Task(id=task_id(), sync_full=baton.Task.SyncFullTask())

    def heartbeat_hung() -> bool:
        if not fake_c1.state.wait_for(lambda s: s.heartbeats.get(task.id, 0) >= 2, 60):
            return False
        with fake_c1.state.lock:
            fake_c1.state.hang_s.update(Heartbeat=20.0, FinishTask=20.0)
            hung = fake_c1.state.methods().count("Heartbeat") + 1
        return fake_c1.state.wait_for(lambda s: [n for n, _ in s.calls].count("Heartbeat") >= hung, 60)

    service = loop.Service(client, {}, str(tmp_path), stop, start_sync=lambda o, fds, t: sync)
    try:
        took = _run_until_stopped(lambda: service.handle(task, None), stop, heartbeat_hung)
    finally:
        client.close()
    assert sync.stopped
    assert "FinishTask" in fake_c1.state.methods()  # asked, though the tenant did not answer
    assert took < 12, f"the task took {took:.0f} s to end"  # each hung call answers after 20 s


@pytest.mark.parametrize("value", ["tenant.conductor.one", "localhost:8443", "[::1]:443", "10.0.0.1:1"])
def test_a_host_with_an_optional_port_is_a_c1_api_host(value):
    from orchestration.service.settings import check_api_host

    assert check_api_host(value) == value


def test_a_token_url_that_is_not_found_names_the_host_not_the_credentials(fake_c1):
    """A 404 means no token endpoint at that host (BATON_C1_API_HOST pointing at another server):
    it read 'refused the client credentials; rotate them', which sends an operator the wrong way."""
    client, _ = client_for(fake_c1)
    fake_c1.state.token_status = 404
    try:
        with pytest.raises(CallError) as failure:
            client.get_task()
    finally:
        client.close()
    assert failure.value.code == grpc.StatusCode.UNAUTHENTICATED  # fatal at start-up, as in baton-sdk
    assert failure.value.message == (
        f"https://{fake_c1.api_host}/auth/v1/token answered HTTP 404: no ConductorOne token endpoint "
        "there; check BATON_C1_API_HOST (or the host in BATON_CLIENT_ID)"
    )


def test_a_task_whose_directory_cannot_be_made_fails_the_task_not_the_service(fake_c1, tmp_path):
    """The temp dir went away (or filled up) after start-up: mkdtemp's OSError ended the service with
    a traceback and the task was never finished."""
    import threading

    from orchestration.service.loop import Service
    from pipelines.c1z.proto.c1.connectorapi.baton.v1 import baton_pb2 as baton
    from tests.service.fake_c1 import task_id

    gone = tmp_path / "gone"
    client, _ = client_for(fake_c1)
    task = baton.Task(id=task_id(), sync_full=baton.Task.SyncFullTask())
    try:
        Service(client, {}, str(gone), threading.Event(), start_sync=lambda o, fds, t: _EndlessSync()).handle(
            task, None
        )
    finally:
        client.close()
    finished = fake_c1.finished_task(task.id)
    assert finished is not None, "the task was never finished"
    assert finished.status.code == grpc.StatusCode.UNKNOWN.value[0]
    assert finished.status.message.startswith(f"cannot make the task's directory in {gone}: ")
    assert not finished.error.non_retryable


def test_a_healthy_upload_slower_than_any_fixed_deadline_completes(fake_c1, tmp_path, monkeypatch):
    """A large .c1z on a slow link: the upload had a fixed 600 s deadline whatever the file's size,
    so each of its three attempts was killed at 600 s and the task failed forever. It now has none
    (as baton-sdk), only a stall limit: here 5 s, while the whole upload takes ~10 s (C1 reads a chunk
    per 0.1 s) and C1 keeps taking chunks. (3 s against ~6 s was cut once in a fresh-clone CI while
    other syncs loaded the machine: the test's own client and fake C1 share one process.)"""
    from orchestration.service import client as client_module

    monkeypatch.setattr(client_module, "UPLOAD_STALL_S", 5.0)
    payload = os.urandom(100 * CHUNK_BYTES)
    path = tmp_path / "large.c1z"
    path.write_bytes(payload)
    fake_c1.state.upload_chunk_delay_s = 0.1
    client, _ = client_for(fake_c1)
    try:
        digest = client.upload("T" * 27, path)
    finally:
        client.close()
    assert digest == hashlib.sha256(payload).hexdigest()
    assert fake_c1.state.methods().count("UploadAsset") == 1  # no attempt was cut
    (upload,) = fake_c1.state.uploads
    assert upload.data == payload


def test_a_stalled_upload_ends_after_the_stall_limit_on_each_attempt(fake_c1, tmp_path, monkeypatch):
    """C1 stops reading the stream (it takes 20 s per chunk here): with no deadline the upload would
    wait on it; each attempt ends once nothing was taken or answered for the stall limit (1 s)."""
    import time

    from orchestration.service import client as client_module

    monkeypatch.setattr(client_module, "UPLOAD_STALL_S", 1.0)
    path = tmp_path / "small.c1z"
    path.write_bytes(os.urandom(CHUNK_BYTES + 7))
    fake_c1.state.upload_chunk_delay_s = 20.0
    client, _ = client_for(fake_c1)
    started = time.monotonic()
    try:
        with pytest.raises(CallError) as failure:
            client.upload("T" * 27, path)
    finally:
        client.close()
    took = time.monotonic() - started
    assert failure.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert failure.value.message.startswith(f"UploadAsset at {client.target}: stalled, C1 took no data")
    assert "for 1 s" in failure.value.message
    assert fake_c1.state.methods().count("UploadAsset") == 3
    assert took < 15, f"three stalled attempts took {took:.0f} s"  # C1 would answer each after 20 s+
    assert fake_c1.state.uploads == []


def test_a_finish_task_waiting_for_a_hung_token_endpoint_keeps_to_its_timeout(fake_c1, caplog):
    """The FinishTask sent while stopping gets a few seconds, but the token it needed first (one
    expired) waited for the endpoint's 30 s timeout whatever that FinishTask's own timeout said."""
    import time

    client, tokens = client_for(fake_c1)
    fake_c1.state.token_hang_s = 20.0
    started = time.monotonic()
    try:
        client.finish_error("T" * 27, grpc.StatusCode.CANCELLED, "stopping", non_retryable=False, timeout=1.0)
    finally:
        client.close()
    took = time.monotonic() - started
    assert took < 8, f"FinishTask took {took:.1f} s"  # the endpoint answers after 20 s
    assert "FinishTask" not in fake_c1.state.methods()  # no call without a token
    assert "token request to" in caplog.text and "abandoned" in caplog.text


_STUBBORN_SYNC = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
with open(sys.argv[1], "w") as handle:
    handle.write(f"{worker.pid}")
time.sleep(120)
"""


def test_a_sync_that_ignores_sigterm_is_killed_with_its_workers_within_podmans_stop_timeout(
    fake_c1, tmp_path, monkeypatch
):
    """A sync that does not end on SIGTERM was given 20 s before SIGKILL, so the service's stop took
    over 20 s: `podman stop` and `docker stop` SIGKILL at 10 s, before the task's FinishTask. Only
    the sync process itself was killed; a worker it started ran on. Now the whole stop fits in
    loop.STOP_BUDGET_S (8 s): the sync gets 3 s, then its process group is killed."""
    import sys
    import threading
    import time

    import psutil

    from orchestration.service import loop
    from orchestration.service.sync_task import SyncProcess
    from pipelines.c1z.proto.c1.connectorapi.baton.v1 import baton_pb2 as baton
    from tests.service.fake_c1 import task_id

    monkeypatch.setattr(loop, "MIN_HEARTBEAT_S", 0.01)
    fake_c1.state.next_heartbeat_s = 0.1
    pid_file = tmp_path / "worker.pid"
    syncs: list[SyncProcess] = []

    def start(options, pass_fds, task):
        syncs.append(SyncProcess(options, command=[sys.executable, "-c", _STUBBORN_SYNC, str(pid_file)]))
        return syncs[-1]

    def started() -> bool:
        return fake_c1.state.wait_for(lambda s: pid_file.exists() and pid_file.read_text().isdigit(), 60)

    client, _ = client_for(fake_c1)
    stop = threading.Event()
    task = baton.Task(id=task_id(), sync_full=baton.Task.SyncFullTask())
    service = loop.Service(client, {}, str(tmp_path / "tasks"), stop, start_sync=start)
    (tmp_path / "tasks").mkdir()
    try:
        took = _run_until_stopped(lambda: service.handle(task, None), stop, started)
    finally:
        client.close()

    def gone(pid: int) -> bool:
        try:
            return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    worker = int(pid_file.read_text())
    for _ in range(50):  # the killed worker is reaped by whoever adopted it
        if gone(worker):
            break
        time.sleep(0.1)
    assert gone(syncs[0].pid) and gone(worker), "the sync or its worker still runs"
    finished = fake_c1.finished_task(task.id)
    assert finished is not None and finished.status.code == grpc.StatusCode.CANCELLED.value[0]
    assert finished.status.message == "sync stopped: the service is stopping"
    assert took < loop.STOP_BUDGET_S < 10, f"the stop took {took:.1f} s"


def test_the_stop_budget_adds_up_within_podmans_10_s():
    """The stop's phases (loop.py's comment) fit STOP_BUDGET_S, which leaves podman/docker margin."""
    from orchestration.service import client, loop, sync_task

    phases = (
        2 * client.STOP_CHECK_S,  # the stop seen; the call in flight cancelled
        sync_task.STOP_WAIT_S + sync_task.READER_WAIT_S,
        loop.FINISH_WHEN_STOPPING_S,
        loop.HEARTBEATS_JOIN_S,
    )
    assert sum(phases) < loop.STOP_BUDGET_S <= 8.0


def test_stale_task_directories_are_removed_and_nothing_else(tmp_path):
    """Only what a killed service can have left: a directory named exactly as mkdtemp names ours,
    not a symlink, ours, and unlocked (or, without a lock, older than a minute); never a user's
    file, a look-alike name, a symlink's target, or a living service's task directory."""
    import os
    import time

    from orchestration.service.task_dirs import TaskDir, remove_stale

    killed = tmp_path / "baton-xmatters-task-abcd_123"  # as a killed service leaves it
    killed.mkdir()
    (killed / ".lock").write_bytes(b"")
    (killed / "sync.c1z.pending").write_bytes(b"half a sync")
    old_probe = tmp_path / "baton-xmatters-probe-zz9_0000"  # an older version's: no lock
    old_probe.mkdir()
    os.utime(old_probe, (time.time() - 3600, time.time() - 3600))
    being_made = tmp_path / "baton-xmatters-task-new00000"  # no lock yet, just made
    being_made.mkdir()
    living = TaskDir(str(tmp_path))  # another service's task, running
    (living.path / "sync.c1z").write_bytes(b"in progress")
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("mine")
    (tmp_path / "baton-xmatters-task-link0000").symlink_to(precious)
    (tmp_path / "baton-xmatters-task-file0000").write_text("a file, not a directory")
    (tmp_path / "baton-xmatters-task-my-notes").mkdir()  # not a name mkdtemp makes
    (tmp_path / "notes.txt").write_text("mine")
    before = sorted(p.name for p in tmp_path.iterdir())
    try:
        removed = remove_stale(str(tmp_path))
        after = sorted(p.name for p in tmp_path.iterdir())
        assert (living.path / "sync.c1z").read_bytes() == b"in progress"
    finally:
        living.remove()
    assert sorted(removed) == sorted([killed, old_probe])
    assert after == sorted(set(before) - {killed.name, old_probe.name})
    assert (precious / "keep.txt").read_text() == "mine"
    assert not living.path.exists()
