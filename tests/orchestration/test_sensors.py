"""The alert sensors, evaluated as the daemon does against the instance of real failed syncs.

Three CLI syncs against the simulator share one data home: a good one, one with a wrong password
(a failed run) and one blocked by the sudden-drop check (a failed check, which also fails its run).
The sensors' first tick is taken between the good sync and the failures, as when the daemon
starts; the alerts go to a real HTTP receiver on 127.0.0.1.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from unittest import mock

import dagster as dg
import pytest

from orchestration.cli import main
from orchestration.definitions import build_definitions
from orchestration.resources import SyncSettings
from orchestration.sensors import (
    ENV_ALERT_WEBHOOK,
    failed_check_alert,
    post_alert,
    run_failure_alert,
    scrub,
)
from orchestration.sync_command import ensure_dagster_home
from simulator import OrgSpec, XmattersSimulator, build_org
from tests.orchestration.test_sync_cli import sync_args

WRONG_PASSWORD = "wrong-Secret-7f3a"


def tenant(groups: int, members_per_group: int) -> OrgSpec:
    return OrgSpec(
        seed=3,
        people=5,
        groups=groups,
        members_per_group=members_per_group,
        hidden_people=0,
        large_groups=0,
        large_group_size=0,
    )


@dataclass(frozen=True)
class History:
    dagster_home: Path
    run_cursor: str  # each sensor's cursor after its first tick, taken before the failures
    check_cursor: str
    password: str


def _tick(sensor: dg.SensorDefinition, home: Path, cursor: str | None) -> Any:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor))


def _evaluated_as(
    sensor: dg.SensorDefinition, home: Path, cursor: str | None, log_key: list[str] | None
) -> Any:
    """As the code server evaluates it (dagster/_grpc/impl.py): the repository and sensor named, and
    the log key the caller gives: the daemon's ends in its stored tick's id, a preview gives none."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        context = dg.SensorEvaluationContext(
            instance_ref=None,
            cursor=cursor,
            log_key=log_key,
            repository_name="__repository__",
            sensor_name=sensor.name,
            instance=instance,
        )
        return sensor.evaluate_tick(context)


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> History:
    root = tmp_path_factory.mktemp("alerts")
    sync_file = root / "sync.c1z"
    env = {"BATON_XMATTERS_HOME": str(root / "home")}
    with mock.patch.dict(os.environ, env), XmattersSimulator(build_org(tenant(3, 4))) as good:
        os.environ.pop("DAGSTER_HOME", None)
        assert main(sync_args(good, sync_file)) == 0
        home = root / "home" / "dagster"
        run_cursor = _tick(run_failure_alert, home, None).cursor
        check_cursor = _tick(failed_check_alert, home, None).cursor
        assert run_cursor and check_cursor

        args = sync_args(good, sync_file)
        args[args.index("--password") + 1] = WRONG_PASSWORD
        assert main(args) == 1
        good.serve(build_org(tenant(0, 0)))  # the same tenant, emptied
        assert main(sync_args(good, sync_file)) == 1  # every grant gone: blocked
    return History(home, run_cursor, check_cursor, good.password)


def logged(capfd: pytest.CaptureFixture[str]) -> str:
    """What the sensors logged: Dagster's console handler writes their lines to stderr."""
    return capfd.readouterr().err


class Receiver:
    """A webhook on 127.0.0.1 that records each POST (path, content type, JSON body)."""

    def __init__(self, status: int = 200) -> None:
        received: list[tuple[str, str, dict]] = []
        self.received = received
        authorizations: list[str | None] = []
        self.authorizations = authorizations

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                received.append((self.path, self.headers.get("Content-Type", ""), body))
                authorizations.append(self.headers.get("Authorization"))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T0KEN-in-path"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def test_a_failed_run_is_logged_and_posted(history, receiver, monkeypatch, capfd):
    monkeypatch.setenv(ENV_ALERT_WEBHOOK, receiver.url)
    monkeypatch.setenv("BATON_PASSWORD", history.password)  # as in the daemon's environment
    data = _tick(run_failure_alert, history.dagster_home, history.run_cursor)
    # one reaction per failed run, and no error in the sensor
    assert [r.error for r in data.dagster_run_reactions] == [None, None]
    assert not _tick(run_failure_alert, history.dagster_home, data.cursor).dagster_run_reactions
    payloads = [body for path, kind, body in receiver.received]
    assert [(p["event"], p["job"]) for p in payloads] == [("run_failed", "xmatters_sync")] * 2
    assert {path for path, _, _ in receiver.received} == {"/hooks/T0KEN-in-path"}
    assert {kind for _, kind, _ in receiver.received} == {"application/json"}
    auth, blocked = payloads
    assert auth["message"].startswith("xmatters: HTTP 401 from http://127.0.0.1:")
    # the check that blocked the publish and why, as the CLI's error line says it; it was Dagster's
    # "1 blocking asset check failed with ERROR severity: c1_staging/grants: grants_sudden_drop"
    assert blocked["message"] == (
        "data-quality check grants_sudden_drop on c1_staging/grants failed: grants 11 -> 0: 100% of "
        "grants dropped; limit 50% (--max-drop); nothing was published"
    )
    assert auth["run_id"] != blocked["run_id"]
    with dg.DagsterInstance.from_config(str(history.dagster_home)) as instance:
        assert instance.get_run_by_id(auth["run_id"]).status == dg.DagsterRunStatus.FAILURE
    text = json.dumps(payloads)
    assert WRONG_PASSWORD not in text and history.password not in text
    assert set(auth) == {"event", "run_id", "job", "message"}
    assert f"run {auth['run_id']} of job xmatters_sync failed: {auth['message']}\n" in logged(capfd)


def test_alert_text_redacts_the_environment_secrets_without_garbling_it():
    message = "HTTP 401 from http://host/api/xm/1/people: password p wrong (xs3cretvalue1)"
    assert scrub(message, {"BATON_PASSWORD": "p"}) == message.replace(" p ", " [redacted] ")
    assert scrub(message, {"BATON_PASSWORD": "s3cretvalue1"}) == message.replace("s3cretvalue1", "[redacted]")


def test_a_failed_check_is_logged_and_posted(history, receiver, monkeypatch, capfd):
    monkeypatch.setenv(ENV_ALERT_WEBHOOK, receiver.url)
    data = _tick(failed_check_alert, history.dagster_home, history.check_cursor)
    assert data.skip_message == "2 finished run(s) read, 1 failed check(s)"
    [(_, _, alert)] = receiver.received
    assert alert == {
        "event": "check_failed",
        "run_id": alert["run_id"],
        "job": "xmatters_sync",
        "asset": "c1_staging/grants",
        "check": "grants_sudden_drop",
        "severity": "ERROR",
        "message": "grants 11 -> 0: 100% of grants dropped; limit 50% (--max-drop)",
    }
    expected = (
        f"check grants_sudden_drop on c1_staging/grants failed in run {alert['run_id']} of job "
        "xmatters_sync: grants 11 -> 0: 100% of grants dropped; limit 50% (--max-drop)"
    )
    assert expected + "\n" in logged(capfd)
    # the next tick starts after those runs: nothing is reported twice
    again = _tick(failed_check_alert, history.dagster_home, data.cursor)
    assert again.skip_message == "0 finished run(s) read, 0 failed check(s)"
    assert len(receiver.received) == 1


def test_a_preview_of_the_check_sensor_posts_nothing_and_says_what_a_tick_would(
    history, receiver, monkeypatch
):
    """The UI's "Preview tick result" with the cursor of a real tick posted every alert again."""
    monkeypatch.setenv(ENV_ALERT_WEBHOOK, receiver.url)
    preview = _evaluated_as(failed_check_alert, history.dagster_home, history.check_cursor, None)
    assert receiver.received == []
    said = preview.skip_message
    where = receiver.url.split("/hooks/", 1)[0]
    assert said.startswith(
        "preview, nothing posted: 2 finished run(s) read, 1 failed check(s); "
        f"a tick would post to {where}: check grants_sudden_drop on c1_staging/grants failed in run "
    ), said
    assert said.endswith(": grants 11 -> 0: 100% of grants dropped; limit 50% (--max-drop)"), said
    assert "T0KEN" not in said  # the webhook's path is its secret
    monkeypatch.delenv(ENV_ALERT_WEBHOOK)
    unset = _evaluated_as(failed_check_alert, history.dagster_home, history.check_cursor, None)
    assert unset.skip_message == (
        "preview, nothing posted: 2 finished run(s) read, 1 failed check(s) "
        f"(${ENV_ALERT_WEBHOOK} is not set: a tick only logs them)"
    )
    # a tick of the daemon, whose log key ends in the id of the tick it stored, posts as before
    monkeypatch.setenv(ENV_ALERT_WEBHOOK, receiver.url)
    key = ["__repository__", failed_check_alert.name, "42"]
    tick = _evaluated_as(failed_check_alert, history.dagster_home, history.check_cursor, key)
    assert tick.skip_message == "2 finished run(s) read, 1 failed check(s)"
    assert [alert["check"] for _, _, alert in receiver.received] == ["grants_sudden_drop"]


def test_without_the_variable_alerts_are_only_logged(history, receiver, capfd):
    assert ENV_ALERT_WEBHOOK not in os.environ
    data = _tick(failed_check_alert, history.dagster_home, history.check_cursor)
    assert data.skip_message.endswith("1 failed check(s)")
    _tick(run_failure_alert, history.dagster_home, history.run_cursor)
    assert receiver.received == []
    messages = logged(capfd)
    assert messages.count(" of job xmatters_sync failed: ") == 2
    assert messages.count(" - ERROR - check grants_sudden_drop on c1_staging/grants failed in run ") == 1


@pytest.mark.parametrize("failure", ["refused", "http_500"])
def test_a_webhook_failure_is_logged_and_never_fails_the_sensor(history, monkeypatch, capfd, failure):
    if failure == "http_500":
        broken = Receiver(status=500)
        url = broken.url
    else:
        broken = Receiver()
        url = broken.url
        broken.close()  # nothing listens on that port any more
    monkeypatch.setenv(ENV_ALERT_WEBHOOK, url)
    try:
        data = _tick(failed_check_alert, history.dagster_home, history.check_cursor)
        run_data = _tick(run_failure_alert, history.dagster_home, history.run_cursor)
    finally:
        if failure == "http_500":
            broken.close()
    assert data.skip_message.endswith("1 failed check(s)")
    assert [r.error for r in run_data.dagster_run_reactions] == [None, None]
    warnings = [line for line in logged(capfd).splitlines() if "alert webhook" in line]
    assert len(warnings) == 3  # the failed check, then the two failed runs
    port = url.split(":")[2].split("/")[0]
    for warning in warnings:
        assert f"alert webhook http://127.0.0.1:{port} " in warning
        assert "T0KEN" not in warning  # the path of a webhook URL is its secret
        assert ("HTTP 500" in warning) == (failure == "http_500")


def test_a_webhook_url_with_user_info_is_posted_with_basic_auth(receiver, caplog):
    """`https://user:secret@host/path` (a receiver behind basic auth): urllib took `user:secret@host`
    for the host name, so every alert failed with `Name or service not known`; the user info is sent
    as the Authorization header, percent-escapes decoded, and never logged."""
    log = logging.getLogger("tests.alerts")
    url = receiver.url.replace("http://", "http://alert%40ops:pa%3Ass@")
    assert post_alert({"event": "x"}, log, {ENV_ALERT_WEBHOOK: url})
    assert receiver.received == [("/hooks/T0KEN-in-path", "application/json", {"event": "x"})]
    assert receiver.authorizations == ["Basic " + base64.b64encode(b"alert@ops:pa:ss").decode()]
    assert caplog.messages == []


def test_post_alert_refuses_a_non_http_url(caplog):
    log = logging.getLogger("tests.alerts")
    assert not post_alert({"event": "x"}, log, {ENV_ALERT_WEBHOOK: "file:///etc/passwd"})
    assert caplog.messages == [f"{ENV_ALERT_WEBHOOK} is not an http(s) URL; alert not sent"]
    assert not post_alert({"event": "x"}, log, {})


def test_sensors_are_wired_and_running_by_default():
    from orchestration.definitions import defs

    for name in ("xmatters_run_failure_alert", "xmatters_failed_check_alert"):
        assert defs.resolve_sensor_def(name).default_status == dg.DefaultSensorStatus.RUNNING


def test_a_run_failed_before_any_step_is_alerted_with_its_cause(tmp_path, monkeypatch, capfd):
    """A run that fails while its resources are set up (the warehouse held open by an analyst's
    session when the schedule starts, a launchpad value refused) has no failed step: the alert said
    only Dagster's `Execution of run ... failed. An exception was thrown during execution.`"""
    home = tmp_path / "dagster"
    ensure_dagster_home(home)
    for name, value in (("BASE_URL", "http://127.0.0.1:9/api/xm/1"), ("USERNAME", "u"), ("PASSWORD", "p")):
        monkeypatch.setenv(f"BATON_{name}", value)
    cursor = _tick(run_failure_alert, home, None).cursor
    settings = SyncSettings(sync_file=str(tmp_path / "sync.c1z"), max_drop_ratio=5.0)
    job = build_definitions({"sync_settings": settings}).resolve_implicit_global_asset_job_def()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert not job.execute_in_process(instance=instance, raise_on_error=False).success
    capfd.readouterr()
    data = _tick(run_failure_alert, home, cursor)
    assert [r.error for r in data.dagster_run_reactions] == [None]
    said = "failed: xmatters: resources.sync_settings.config.max_drop_ratio must be between 0 and 1, got 5\n"
    assert said in logged(capfd)


@pytest.mark.parametrize(
    ("cursor", "said"), [("", ""), ("  ", ""), ("abc", " (cursor 'abc' is not a storage id)")]
)
def test_a_blank_or_foreign_cursor_starts_the_check_sensor_afresh(
    history, receiver, monkeypatch, cursor, said
):
    """The UI's "Preview tick result" sends "" when its optional cursor field is left empty: the
    tick failed with `ValueError: invalid literal for int() with base 10: ''`; a cursor typed with
    the page's "Edit" would have failed every tick."""
    monkeypatch.setenv(ENV_ALERT_WEBHOOK, receiver.url)
    fresh = _tick(failed_check_alert, history.dagster_home, None)
    data = _tick(failed_check_alert, history.dagster_home, cursor)
    assert data.skip_message == f"started{said}: runs that finish from now on are checked"
    assert data.cursor == fresh.cursor  # the last finished run's, as on a first tick
    assert _tick(failed_check_alert, history.dagster_home, data.cursor).skip_message == (
        "0 finished run(s) read, 0 failed check(s)"
    )
    assert receiver.received == []


def test_the_check_sensor_previewed_on_a_new_instance_with_a_blank_cursor(tmp_path):
    home = tmp_path / "dagster"
    ensure_dagster_home(home)
    data = _tick(failed_check_alert, home, "")
    assert data.skip_message == "started: runs that finish from now on are checked"
    assert data.cursor == "-1"
