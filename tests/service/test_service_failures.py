"""Service mode when things go wrong: C1 unavailable, uploads cut, checks failing, cancellation,
SIGTERM mid-sync, refused or malformed credentials. Each runs the real service process against the
fake C1 and the simulator, and scans everything it wrote for the client secret."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import time
from pathlib import Path

import grpc
import psutil
import pytest

from orchestration.service.task_dirs import remove_stale
from simulator import FaultRule, Faults
from tests.conftest import cached_org
from tests.pki import make_self_signed
from tests.service.conftest import assert_secret_nowhere, service_env
from tests.service.test_service_end_to_end import dagster_runs

TIMEOUT_S = 240


def finished(fake, task):
    assert fake.state.wait_for(lambda s: any(f.task_id == task for f in s.finished), TIMEOUT_S)
    return fake.finished_task(task)


# How long the simulator holds back `/people`: the sync is extracting all that time, far longer than a
# loaded machine takes to act on it; below the client's 30 s timeout (neither retried nor failed).
PEOPLE_HOLD_S = 20.0


def _service_mid_sync(fake_c1, make_simulator, pki, tmp_path, start_service, **env: str):
    """A service given one sync task, once its Dagster run is extracting and held there (its
    `/people` request held back `PEOPLE_HOLD_S`): (simulator, task id, service), heartbeats every 0.5 s."""
    held = FaultRule("slow", path_contains="/people", times=None, delay_s=PEOPLE_HOLD_S)
    sim = make_simulator(faults=Faults(latency_s=0.3, rules=[held]))
    fake_c1.state.next_heartbeat_s = 0.5
    task = fake_c1.add_task()
    service = start_service(service_env(fake_c1, sim, tmp_path / "home", pki, **env))
    deadline = time.monotonic() + TIMEOUT_S
    # the Dagster run is extracting: `/people` is asked by its raw step (the member calls, and their
    # `/groups` listing, start before the run: pipelines/xmatters/early_members.py)
    while not held.fired and time.monotonic() < deadline:
        time.sleep(0.1)
    assert held.fired, service.output()
    return sim, task, service


def test_unavailable_c1_and_a_cut_upload_are_retried_and_unsupported_tasks_refused(
    fake_c1, simulator, pki, tmp_path, start_service
):
    fake_c1.state.unavailable_calls.update({"Hello": 1, "GetTask": 2})
    fake_c1.state.cut_uploads = 1
    grant = fake_c1.add_task("grant")
    hello = fake_c1.add_task("hello")
    sync = fake_c1.add_task()
    service = start_service(service_env(fake_c1, simulator, tmp_path / "home", pki))

    refused = finished(fake_c1, grant)
    assert refused.WhichOneof("final_state") == "error"
    assert refused.error.non_retryable
    assert refused.status.code == grpc.StatusCode.UNIMPLEMENTED.value[0]
    assert "read-only" in refused.status.message

    done = finished(fake_c1, sync)
    assert done.WhichOneof("final_state") == "success", service.output()
    assert service.stop() == 0
    methods = fake_c1.state.methods()
    assert methods[:2] == ["Hello", "Hello"]  # the first answered UNAVAILABLE: retried after 1 s
    assert methods[2:5] == ["GetTask"] * 3  # two UNAVAILABLE, then the grant task
    # a hello task is answered with Hello carrying its id, and no FinishTask (baton-sdk's hello.go)
    hellos = [r for n, r in fake_c1.state.calls if n == "Hello"]
    assert [h.task_id for h in hellos] == ["", "", hello]
    assert fake_c1.finished_task(hello) is None
    assert fake_c1.state.cut == 1
    assert methods.count("UploadAsset") == 2  # the cut stream, then the whole file again
    (upload,) = fake_c1.state.uploads
    assert upload.task_id == sync
    output = service.output()
    assert "GetTask failed" in output and "UNAVAILABLE" in output
    assert_secret_nowhere(fake_c1.credentials.client_secret, service.log, tmp_path / "home")


def test_a_failed_blocking_check_finishes_the_task_with_its_error_and_uploads_nothing(
    fake_c1, simulator, org_spec, pki, tmp_path, start_service
):
    first = fake_c1.add_task()
    service = start_service(service_env(fake_c1, simulator, tmp_path / "home", pki))
    assert finished(fake_c1, first).WhichOneof("final_state") == "success", service.output()
    assert len(fake_c1.state.uploads) == 1

    # the same tenant now shows the API account far fewer people: the sudden-drop check blocks
    simulator.serve(cached_org(dataclasses.replace(org_spec, people=10, hidden_people=0, large_groups=0)))
    second = fake_c1.add_task()
    failed = finished(fake_c1, second)
    assert service.stop() == 0
    assert failed.WhichOneof("final_state") == "error"
    assert failed.status.code == grpc.StatusCode.UNKNOWN.value[0]
    assert "users_sudden_drop" in failed.status.message
    assert "nothing was published" in failed.status.message
    assert not failed.error.non_retryable
    assert len(fake_c1.state.uploads) == 1  # nothing uploaded for the failed sync
    assert "UploadAsset" not in fake_c1.state.methods()[fake_c1.state.methods().index("UploadAsset") + 1 :]
    runs = dagster_runs(tmp_path / "home" / "dagster")
    assert sorted(r.status.value for r in runs) == ["FAILURE", "SUCCESS"]
    # one line says the task failed, names it and its cause, and that the service goes on; the
    # sync's own `baton-xmatters: error:` line (the CLI's exit line) is not echoed as the service's
    output = service.output()
    assert "baton-xmatters: error:" not in output, output
    (failure,) = [line for line in output.splitlines() if f"task {second}" in line and "ERROR" in line]
    assert f"task {second} failed (sync exit 1): " in failure, failure
    assert failed.status.message in failure  # the cause, whole: FinishTask's message
    assert failure.endswith("; finished in C1 as failed, the service goes on"), failure
    assert_secret_nowhere(fake_c1.credentials.client_secret, service.log, tmp_path / "home")


def test_cancellation_seen_in_a_heartbeat_stops_the_sync_and_the_service_goes_on(
    fake_c1, make_simulator, pki, tmp_path, start_service
):
    sim, task, service = _service_mid_sync(fake_c1, make_simulator, pki, tmp_path, start_service)
    with fake_c1.state.lock:
        cancel_at = fake_c1.state.heartbeats[task] + 1
        fake_c1.state.cancel_at_heartbeat = cancel_at
    result = finished(fake_c1, task)
    assert result.WhichOneof("final_state") == "error", service.output()
    assert result.status.code == grpc.StatusCode.CANCELLED.value[0]
    assert "cancelled by C1" in result.status.message
    assert fake_c1.state.heartbeats[task] == cancel_at  # none after the one that said cancelled
    # still serving: polls again after the cancelled task
    polls = fake_c1.state.methods().count("GetTask")
    assert fake_c1.state.wait_for(lambda s: [n for n, _ in s.calls].count("GetTask") > polls, 10)
    assert service.stop() == 0
    assert fake_c1.state.uploads == []
    runs = dagster_runs(tmp_path / "home" / "dagster")
    assert [(r.tags.get("baton-xmatters/started-by"), r.status.value) for r in runs] == [("c1", "CANCELED")]


def test_sigterm_during_a_sync_cancels_the_task_and_exits_0(
    fake_c1, make_simulator, pki, tmp_path, start_service
):
    sim, task, service = _service_mid_sync(fake_c1, make_simulator, pki, tmp_path, start_service)
    assert fake_c1.state.wait_for(lambda s: s.heartbeats.get(task, 0) >= 2, TIMEOUT_S)  # sync still held
    # the sync's processes get neither the client secret nor the xMatters password in argv or environment
    children = psutil.Process(service.process.pid).children(recursive=True)
    assert children
    for child in children:
        environ = Path(f"/proc/{child.pid}/environ").read_bytes()
        cmdline = Path(f"/proc/{child.pid}/cmdline").read_bytes()
        assert fake_c1.credentials.client_secret.encode() not in environ + cmdline
        assert b"BATON_CLIENT_SECRET" not in environ
        assert sim.password.encode() not in environ + cmdline  # it travels on the child's stdin
    started = time.monotonic()
    assert service.stop() == 0
    assert time.monotonic() - started < 10  # podman/docker stop: SIGKILL at 10 s (loop.STOP_BUDGET_S)
    result = fake_c1.finished_task(task)
    assert result is not None and result.status.code == grpc.StatusCode.CANCELLED.value[0]
    assert fake_c1.state.uploads == []
    runs = dagster_runs(tmp_path / "home" / "dagster")
    assert [r.status.value for r in runs] == ["CANCELED"]


def test_a_refused_token_is_one_line_and_exit_1(fake_c1, simulator, pki, tmp_path, start_service):
    fake_c1.state.token_status = 401
    service = start_service(service_env(fake_c1, simulator, tmp_path / "home", pki))
    assert service.process.wait(timeout=60) == 1
    lines = service.output().strip().splitlines()
    assert lines[-1] == (
        f"baton-xmatters: error: https://{fake_c1.api_host}/auth/v1/token refused the client credentials "
        "(HTTP 401); check BATON_CLIENT_ID/BATON_CLIENT_SECRET (rotate them in C1's connector settings)"
    )
    assert fake_c1.state.calls == []  # no gRPC call without a token
    assert_secret_nowhere(fake_c1.credentials.client_secret, service.log, tmp_path)


def test_a_malformed_secret_is_named_never_shown(fake_c1, simulator, pki, tmp_path, start_service):
    secret = fake_c1.credentials.client_secret
    cases = {
        secret.replace(":v1:", ":v2:"): "unsupported version (the third field must be v1)",
        secret[:-6]: "the key is not base64url-encoded JSON",
        secret.split(":", 1)[1]: "expected 4 ':'-separated fields, got 3",
    }
    for bad, reason in cases.items():
        env = service_env(fake_c1, simulator, tmp_path / "home", pki, BATON_CLIENT_SECRET=bad)
        service = start_service(env)
        assert service.process.wait(timeout=60) == 2
        assert service.output().strip().splitlines() == [
            f"baton-xmatters: error: --client-secret/BATON_CLIENT_SECRET is malformed: {reason}"
        ]
        assert bad.rsplit(":", 1)[-1][:20] not in service.output()
    env = service_env(fake_c1, simulator, tmp_path / "home", pki)
    del env["BATON_CLIENT_ID"]
    service = start_service(env)
    assert service.process.wait(timeout=60) == 2
    assert "--client-id/BATON_CLIENT_ID is required" in service.output()
    assert fake_c1.state.token_requests == []


def test_a_sync_file_is_refused_in_service_mode(fake_c1, simulator, pki, tmp_path, start_service):
    """`-f` was ignored without a word (as Go connectors do): the task writes its own temporary .c1z
    and uploads it, so the file a user asked for never appeared. Refused before any call to C1."""
    home = tmp_path / "home"
    service = start_service(service_env(fake_c1, simulator, home, pki), "-f", str(tmp_path / "mine.c1z"))
    assert service.process.wait(timeout=60) == 2
    assert service.output().strip().splitlines() == [
        "baton-xmatters: error: -f/--file has no effect in service mode: each C1 task's .c1z is "
        "written under --c1z-temp-dir (BATON_C1Z_TEMP_DIR, default the system temp dir) and uploaded "
        "to C1; leave it out"
    ]
    service = start_service(service_env(fake_c1, simulator, home, pki, BATON_FILE=str(tmp_path / "env.c1z")))
    assert service.process.wait(timeout=60) == 2
    refused = "baton-xmatters: error: BATON_FILE has no effect in service mode"
    assert service.output().strip().startswith(refused)
    assert fake_c1.state.token_requests == [] and fake_c1.state.calls == []
    assert not (tmp_path / "mine.c1z").exists() and not (tmp_path / "env.c1z").exists()


def test_a_malformed_c1_api_host_is_one_line_at_start_up(fake_c1, simulator, pki, tmp_path, start_service):
    """BATON_C1_API_HOST is host[:port]. A URL pasted instead was retried forever as a DNS error for
    `https://https://...`; a trailing slash was reported as C1 refusing the client credentials."""
    home = tmp_path / "home"
    malformed = (f"https://{fake_c1.api_host}", f"{fake_c1.api_host}/", "localhost:https", "localhost:70000")
    for value in malformed:
        service = start_service(service_env(fake_c1, simulator, home, pki, BATON_C1_API_HOST=value))
        try:
            code = service.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            code = None
        assert code == 2, f"{value!r}: {service.output()}"
        assert service.output().strip().splitlines() == [
            f"baton-xmatters: error: BATON_C1_API_HOST {value!r} is not host[:port] "
            "(e.g. tenant.conductor.one or localhost:8443)"
        ]
    assert fake_c1.state.token_requests == [] and fake_c1.state.calls == []


def test_a_temp_dir_where_nothing_can_be_made_is_one_line_at_start_up(
    fake_c1, simulator, pki, tmp_path, start_service
):
    """/proc stands for a read-only filesystem (a hardened pod's root, where the default temp dir
    is): the service started, then died with a traceback on its first task, leaving it unfinished."""
    fake_c1.add_task()
    env = service_env(fake_c1, simulator, tmp_path / "home", pki, BATON_C1Z_TEMP_DIR="/proc")
    service = start_service(env)
    assert service.process.wait(timeout=60) == 2, service.output()
    assert service.output().strip().splitlines() == [
        "baton-xmatters: error: cannot write each task's .c1z under /proc "
        "(--c1z-temp-dir/BATON_C1Z_TEMP_DIR, default the system temp dir): No such file or directory"
    ]
    assert fake_c1.state.calls == []


def test_a_killed_service_leaves_no_sync_running(fake_c1, make_simulator, pki, tmp_path, start_service):
    """SIGKILL (or an OOM kill) of the service mid-sync: the sync process, in a session of its own,
    went on alone, held the warehouse lock (the next service's task failed 'another sync is
    running') and published a sync no one uploaded. It now stops, its run marked canceled."""
    tasks = tmp_path / "tasks"  # the killed service cannot remove its task's directory: keep it here
    tasks.mkdir()
    sim, task, service = _service_mid_sync(
        fake_c1, make_simulator, pki, tmp_path, start_service, BATON_C1Z_TEMP_DIR=str(tasks)
    )
    children = psutil.Process(service.process.pid).children(recursive=True)
    assert children
    service.process.kill()
    service.process.wait()
    gone, alive = psutil.wait_procs(children, timeout=PEOPLE_HOLD_S * 0.6)  # /people answers after 20 s
    assert alive == [], f"still running after the service was killed: {[p.pid for p in alive]}"
    runs = dagster_runs(tmp_path / "home" / "dagster")
    assert [r.status.value for r in runs] == ["CANCELED"]
    # the interrupted sync left no file; the killed service, its task's directory with its lock
    assert [sorted(p.name for p in d.iterdir()) for d in tasks.iterdir()] == [[".lock"]]

    # the next service removes that directory as it starts (before: one more left at each kill)
    hellos = fake_c1.state.methods().count("Hello")
    again = start_service(service_env(fake_c1, sim, tmp_path / "home", pki, BATON_C1Z_TEMP_DIR=str(tasks)))
    assert fake_c1.state.wait_for(lambda s: [n for n, _ in s.calls].count("Hello") > hellos, TIMEOUT_S)
    assert again.stop() == 0
    assert list(tasks.iterdir()) == []
    assert "removed 1 task directory under" in again.output()


def test_the_task_directory_of_an_orphaned_sync_still_stopping_is_not_removed(
    fake_c1, make_simulator, pki, tmp_path, start_service
):
    """A service killed mid-sync leaves its sync orphaned for the second or two it takes to stop
    (child.py), still writing in its task directory. The killed service's lock on that directory
    went with it, so a service started then (a restart policy's) took the lock and removed the
    directory under the orphan. The orphan now holds the lock too, until it is gone; held here
    stopped (SIGSTOP), the window stays open as long as the test needs."""
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    sim, task, service = _service_mid_sync(
        fake_c1, make_simulator, pki, tmp_path, start_service, BATON_C1Z_TEMP_DIR=str(tasks)
    )
    [sync] = psutil.Process(service.process.pid).children()
    os.killpg(sync.pid, signal.SIGSTOP)  # the sync and its workers (its session), as they are
    service.process.kill()
    service.process.wait()
    [task_dir] = tasks.iterdir()
    try:
        assert remove_stale(str(tasks)) == []  # what the next service does first
        assert task_dir.is_dir() and (task_dir / ".lock").exists()
    finally:
        os.killpg(sync.pid, signal.SIGCONT)
    sync.wait(timeout=PEOPLE_HOLD_S * 0.6)  # the orphan sees the service gone and stops
    assert remove_stale(str(tasks)) == [task_dir]
    assert list(tasks.iterdir()) == []


def test_sigterm_while_the_token_endpoint_hangs_exits_0_at_once(
    fake_c1, simulator, pki, tmp_path, start_service
):
    """The first token request hangs (a tenant or proxy that accepted the connection and went
    quiet): SIGTERM waited for the request's 30 s timeout, past `podman stop`'s 10 s (SIGKILL).
    The wait for the token is now abandoned as any call in flight is."""
    fake_c1.state.token_hang_s = 60.0
    service = start_service(service_env(fake_c1, simulator, tmp_path / "home", pki))
    assert fake_c1.state.wait_for(lambda s: len(s.token_requests) >= 1, TIMEOUT_S), service.output()
    time.sleep(0.5)  # the request is in flight, not just sent
    started = time.monotonic()
    code = service.stop()
    took = time.monotonic() - started
    assert code == 0, service.output()
    assert took < 10, f"the service took {took:.1f} s to stop"  # the request would time out at 30 s
    assert fake_c1.state.calls == []  # no gRPC call was made without a token
    assert service.output().strip().splitlines()[-1].endswith("service stopped")
    # the abandoned request (its assertion signed with the secret) said nothing as the process ended
    assert_secret_nowhere(fake_c1.credentials.client_secret, service.log, tmp_path / "home")


def test_task_directories_a_killed_service_left_are_removed_at_start_up_and_nothing_else(
    fake_c1, simulator, pki, tmp_path, start_service
):
    """Each SIGKILL (or OOM kill) of a service mid-task left its task directory, with whatever the
    sync had written, under the temp dir for good. The next service removes those, and only
    those: not a user's file or directory beside them."""
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    killed = tasks / "baton-xmatters-task-k1ll_3d0"
    killed.mkdir()
    (killed / ".lock").write_bytes(b"")
    (killed / "sync.c1z").write_bytes(b"C1ZF\x00 a sync no one uploaded")
    mine = [
        tasks / "notes.txt",
        tasks / "baton-xmatters-task-report.c1z",
        tasks / "baton-xmatters-task-my-dir",
    ]
    mine[0].write_text("mine")
    mine[1].write_text("mine too")
    mine[2].mkdir()
    env = service_env(fake_c1, simulator, tmp_path / "home", pki, BATON_C1Z_TEMP_DIR=str(tasks))
    service = start_service(env)
    assert fake_c1.state.wait_for(lambda s: "GetTask" in [n for n, _ in s.calls], TIMEOUT_S), service.output()
    assert service.stop() == 0
    assert sorted(tasks.iterdir()) == sorted(mine)
    assert f"removed 1 task directory under {tasks} left by a service that was killed" in service.output()


class _TlsServer:
    """A TLS server on 127.0.0.1 that only does handshakes (a host that is not C1, or C1 behind an
    unexpected certificate): enough for a client to see the certificate and refuse it."""

    def __init__(self, cert: Path, key: Path) -> None:
        import socket
        import ssl
        import threading

        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(cert, key)
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self.handshakes = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return  # closed
            self.handshakes += 1
            try:
                with self._context.wrap_socket(connection, server_side=True) as tls:
                    tls.recv(1)
            except OSError:
                pass  # the client refused the certificate
            finally:
                connection.close()

    def close(self) -> None:
        self._socket.close()
        self._thread.join(5)


@pytest.mark.parametrize("case", ["self-signed", "wrong host"])
def test_a_certificate_that_fails_verification_is_a_set_up_error_exit_2(
    case, fake_c1, simulator, pki, tmp_path, start_service
):
    """BATON_C1_API_HOST pointing at a server whose certificate fails verification (self-signed,
    or valid but for another host) was retried forever as an outage, 'TLS error' lines for good.
    Before any contact with C1 it is a set-up error: one line naming the host and the problem."""
    cert = make_self_signed(tmp_path / "cert", "other.example")
    server = _TlsServer(cert.cert_pem, cert.key_pem)
    trusted = pki.ca_pem if case == "self-signed" else cert.cert_pem  # "wrong host": trusted, not ours
    host = f"127.0.0.1:{server.port}"
    env = service_env(
        fake_c1, simulator, tmp_path / "home", pki, BATON_C1_API_HOST=host, SSL_CERT_FILE=str(trusted)
    )
    try:
        service = start_service(env)
        try:
            code = service.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            code = None
    finally:
        server.close()
    problem = {
        "self-signed": "self-signed certificate",
        "wrong host": "IP address mismatch, certificate is not valid for '127.0.0.1'",
    }[case]
    assert code == 2, service.output()
    assert service.output().strip().splitlines()[-1] == (
        f"baton-xmatters: error: TLS certificate of {host} failed verification: {problem}; check "
        "BATON_C1_API_HOST (or the host in BATON_CLIENT_ID), and for a private CA, SSL_CERT_FILE"
    )
    assert [line for line in service.output().splitlines() if "error" in line.lower()] == [
        service.output().strip().splitlines()[-1]
    ]
    assert server.handshakes >= 1
    assert fake_c1.state.token_requests == [] and fake_c1.state.calls == []
