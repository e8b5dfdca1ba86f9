"""Alerts: a failed run, and a failed data-quality check, each logged and optionally sent to a webhook.

A failed sync keeps the previous `.c1z` (write-audit-publish), so nothing downstream notices: C1
just keeps stale access data. These sensors make the failure visible. Each logs one line naming
the run, the job and the cause; when `BATON_XMATTERS_ALERT_WEBHOOK` is set (in the environment of
the daemon) they also POST a short JSON there. The webhook is best effort: a failure to deliver is
logged and never fails the sensor, and the URL is never logged whole (chat webhooks carry their
secret in the path).

Both watch every run of the instance (`monitor_all_code_locations`): CLI syncs run in-process on
the same instance and have no code location, and they fail in the same ways. A failed blocking
check also fails its run, so such a run gets both alerts: `run_failed` names the checks that
blocked the publish and the first one's reason, as the CLI's error line does; `check_failed` one
alert per failed check.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import dagster as dg

from orchestration.run_outcome import failure_line, run_failure_cause
from pipelines.xmatters.config import XmattersConfig
from pipelines.xmatters.scrub import REDACTED, secrets_pattern
from pipelines.xmatters.settings_table import declared

ENV_ALERT_WEBHOOK = "BATON_XMATTERS_ALERT_WEBHOOK"
WEBHOOK_TIMEOUT_S = 5.0
MAX_MESSAGE_CHARS = 1000
_SECRET_VARIABLES = tuple(
    item.spec.env for item in declared(XmattersConfig) if item.spec.secret and item.spec.env
)
_FINISHED = (
    dg.DagsterEventType.RUN_SUCCESS,
    dg.DagsterEventType.RUN_FAILURE,
    dg.DagsterEventType.RUN_CANCELED,
)
_RUNS_PER_TICK = 100
# Alerts need no credentials and send nothing unless the webhook is set: on by default, so a
# failing scheduled sync is reported without anyone having to remember to turn alerting on.
DEFAULT_STATUS = dg.DefaultSensorStatus.RUNNING


def scrub(text: str, env: Mapping[str, str] | None = None) -> str:
    """`text` without any secret the environment holds (defence in depth: errors never name it)."""
    env = os.environ if env is None else env
    secrets = {secret for name in _SECRET_VARIABLES if (secret := env.get(name, ""))}
    if secrets:
        text = secrets_pattern(secrets).sub(REDACTED, text)
    return text[:MAX_MESSAGE_CHARS]


def post_alert(payload: dict[str, Any], log: Any, env: Mapping[str, str] | None = None) -> bool:
    """POST `payload` as JSON to the webhook, if one is set; True when it was accepted (2xx)."""
    env = os.environ if env is None else env
    url = env.get(ENV_ALERT_WEBHOOK, "").strip()
    if not url:
        return False
    parts = urlsplit(url)
    where = webhook_shown(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        log.warning(f"{ENV_ALERT_WEBHOOK} is not an http(s) URL; alert not sent")
        return False
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json"}
    if "@" in parts.netloc:  # urllib would take `user:secret@host` for the host name
        headers["Authorization"] = _basic_auth(parts.username or "", parts.password or "")
        url = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_S) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        log.warning(f"alert webhook {where} answered HTTP {exc.code}; alert not delivered")
        return False
    except (OSError, ValueError) as exc:  # URLError, timeouts, refused connections
        reason = getattr(exc, "reason", exc)
        log.warning(f"alert webhook {where} failed: {reason}; alert not delivered")
        return False
    return True


def webhook_shown(url: str) -> str:
    """The webhook as messages name it: scheme and host only (no path, query or user info, which
    carry a chat webhook's secret)."""
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def is_preview(context: dg.SensorEvaluationContext) -> bool:
    """True when the UI's "Preview tick result" (or `dagster sensor preview`) evaluates the sensor.

    Dagster 1.13 has no flag for it. A tick of the daemon is stored before it is evaluated and the
    daemon passes its log key, which ends in that tick's id; a preview passes none, and the context
    makes one up ending in a timestamp (`20261207_193000`). A context built without a repository
    (a direct call, tests) has no log key at all: a real evaluation.
    """
    key = context.log_key
    return bool(key) and not str(key[-1]).isdigit()


def _basic_auth(username: str, password: str) -> str:
    """The Authorization header for a webhook URL's user info (percent-escapes decoded, as curl does)."""
    token = f"{unquote(username)}:{unquote(password)}".encode()
    return "Basic " + base64.b64encode(token).decode("ascii")


def run_failure_message(context: dg.RunFailureSensorContext) -> str:
    """What stopped the run, as the CLI's error line says it (`run_outcome.failure_line`: the step
    that failed first, or the blocking checks that refused the publish and why, with the step
    failure's lines joined), else the cause of the run's failure (a resource that could not be set
    up), else Dagster's message."""
    records = context.instance.get_records_for_run(
        context.dagster_run.run_id,
        of_type={dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.ASSET_CHECK_EVALUATION},
        limit=10_000,
    ).records
    events = [r.event_log_entry.dagster_event for r in records if r.event_log_entry.dagster_event]
    return (
        failure_line(events, first_line=False)
        or run_failure_cause(context.failure_event)
        or context.failure_event.message
        or "the run failed"
    )


@dg.run_failure_sensor(
    name="xmatters_run_failure_alert",
    description=f"Logs every failed run and POSTs it to ${ENV_ALERT_WEBHOOK} when set.",
    monitor_all_code_locations=True,
    default_status=DEFAULT_STATUS,
)
def run_failure_alert(context: dg.RunFailureSensorContext) -> None:
    run = context.dagster_run
    message = scrub(run_failure_message(context))
    context.log.error(f"run {run.run_id} of job {run.job_name} failed: {message}")
    post_alert(
        {"event": "run_failed", "run_id": run.run_id, "job": run.job_name, "message": message},
        context.log,
    )


@dg.sensor(
    name="xmatters_failed_check_alert",
    description=f"Logs every failed asset check of a finished run; POSTs it to ${ENV_ALERT_WEBHOOK} if set.",
    default_status=DEFAULT_STATUS,
    minimum_interval_seconds=30,
)
def failed_check_alert(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    """Reads the check evaluations of each run that finished since the last tick (any status).

    The cursor is the storage id of the last run-finished event read. On its first tick the sensor
    only sets it: runs that ended before alerting was on are history, not news. So it does when the
    cursor is empty (the UI's "Preview tick result" sends "" when its optional cursor field is left
    blank: the tick failed with `ValueError: invalid literal for int()`) or not a storage id (typed
    with the sensor page's cursor "Edit"): every later tick would have failed the same way.

    A preview ("Preview tick result", `is_preview`) posts nothing, whatever its cursor: its result
    says what a tick would post and where (it posted every alert again when given a cursor).
    """
    instance = context.instance
    given = (context.cursor or "").strip()
    after = _storage_id(given)
    if after is None:
        latest = [_finished_runs(instance, event_type, None, 1, ascending=False) for event_type in _FINISHED]
        context.update_cursor(str(max((r[0].storage_id for r in latest if r), default=-1)))
        ignored = f" (cursor {given!r} is not a storage id)" if given else ""
        return dg.SkipReason(f"started{ignored}: runs that finish from now on are checked")
    finished = _finished_since(instance, after)
    preview = is_preview(context)
    failed = 0
    would_post: list[str] = []
    for record in finished:
        run_id = record.event_log_entry.run_id
        run = instance.get_run_by_id(run_id)
        job = run.job_name if run is not None else record.event_log_entry.job_name
        for evaluation in failed_checks(instance, run_id):
            failed += 1
            check = evaluation.check_name
            asset = evaluation.asset_key.to_user_string()
            message = scrub(evaluation.description or "no description")
            context.log.error(f"check {check} on {asset} failed in run {run_id} of job {job}: {message}")
            if preview:  # shown in the preview's result instead: a preview must not alert anyone
                would_post.append(f"check {check} on {asset} failed in run {run_id}: {message}")
                continue
            post_alert(
                {
                    "event": "check_failed",
                    "run_id": run_id,
                    "job": job,
                    "asset": asset,
                    "check": check,
                    "severity": evaluation.severity.value,
                    "message": message,
                },
                context.log,
            )
        context.update_cursor(str(record.storage_id))
    read = f"{len(finished)} finished run(s) read, {failed} failed check(s)"
    if not preview:
        return dg.SkipReason(read)
    return dg.SkipReason(f"preview, nothing posted: {read}{_would_post(would_post)}")


def _would_post(alerts: Sequence[str], env: Mapping[str, str] | None = None) -> str:
    """What a real tick would send, for the preview's result: "" when there is nothing to send."""
    url = (os.environ if env is None else env).get(ENV_ALERT_WEBHOOK, "").strip()
    if not alerts:
        return ""
    if not url:
        return f" (${ENV_ALERT_WEBHOOK} is not set: a tick only logs them)"
    return f"; a tick would post to {webhook_shown(url)}: " + " | ".join(alerts)


def _storage_id(cursor: str) -> int | None:
    """The cursor as the storage id it holds; None when there is none (blank or not a number)."""
    try:
        return int(cursor)
    except ValueError:
        return None


def _finished_runs(
    instance: dg.DagsterInstance,
    event_type: dg.DagsterEventType,
    after: int | None,
    limit: int,
    *,
    ascending: bool = True,
) -> Sequence[dg.EventLogRecord]:
    records_filter = dg.RunStatusChangeRecordsFilter(event_type=event_type, after_storage_id=after)  # type: ignore[arg-type]
    return instance.fetch_run_status_changes(records_filter, limit=limit, ascending=ascending).records


def _finished_since(instance: dg.DagsterInstance, after: int) -> list[dg.EventLogRecord]:
    """Runs finished after storage id `after`, oldest first; never past a page that was cut off."""
    pages = [_finished_runs(instance, event_type, after, _RUNS_PER_TICK) for event_type in _FINISHED]
    records = sorted((r for page in pages for r in page), key=lambda r: r.storage_id)
    cut = [page[-1].storage_id for page in pages if len(page) == _RUNS_PER_TICK]
    return [r for r in records if r.storage_id <= min(cut)] if cut else records


def failed_checks(instance: dg.DagsterInstance, run_id: str) -> Iterator[dg.AssetCheckEvaluation]:
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION, limit=10_000
    ).records
    for record in records:
        event = record.event_log_entry.dagster_event
        evaluation = event.event_specific_data if event is not None else None
        if isinstance(evaluation, dg.AssetCheckEvaluation) and not evaluation.passed:
            yield evaluation


alert_sensors = [run_failure_alert, failed_check_alert]
