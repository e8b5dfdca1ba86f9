"""A 401 in a run names where that run took the credentials (orchestration/credentials_hint.py).

A run of the UI failed on a wrong password with `(check the user name and password: --username,
--password or --password-file; ...)`: flags its user never typed. A run of the code location names
its resource config and the variables it names; a run of the command line keeps the flags.
"""

from __future__ import annotations

import dagster as dg

from orchestration.credentials_hint import for_run
from orchestration.definitions import build_definitions
from orchestration.resources import SyncSettings
from orchestration.run_tags import CLI, SCHEDULE
from pipelines.xmatters.errors import CREDENTIALS_HINT, AuthError, describe_status
from tests.orchestration.conftest import use_simulator


def test_a_401_in_a_ui_run_names_the_config_field_and_its_variable(
    simulator, data_home, tmp_path, monkeypatch
):
    use_simulator(monkeypatch, simulator)
    monkeypatch.setenv("OTHER_PASSWORD", "wrong-password")
    resources = {"sync_settings": SyncSettings(sync_file=str(tmp_path / "sync.c1z"))}
    job = build_definitions(resources).resolve_job_def("xmatters_sync")
    named = {"resources": {"xmatters": {"config": {"password": {"env": "OTHER_PASSWORD"}}}}}
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(run_config=named, instance=instance, raise_on_error=False)
    assert not result.success
    failures = [event for event in result.all_events if event.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert [event.step_key for event in failures] == ["xmatters_raw"]
    error = failures[0].event_specific_data.error
    causes = []
    while error is not None:  # Dagster's "Error occurred while executing op", then ours
        causes.append(error.message)
        error = error.cause
    cause = next(message for message in causes if "HTTP 401" in message)
    assert cause.rstrip().endswith(
        "(check the user name and password of the code location: resources.xmatters.config.username "
        "(its variable BATON_USERNAME) and resources.xmatters.config.password (its variable OTHER_PASSWORD))"
    ), cause
    assert "--password" not in " ".join(causes) and "wrong-password" not in " ".join(causes), causes


def test_the_hint_follows_who_started_the_run():
    error = AuthError(describe_status(401, "https://acme.xmatters.com/api/xm/1/groups", "Unauthorized"))
    assert CREDENTIALS_HINT in str(error)
    # the CLI (and C1 service mode) took flags: unchanged
    assert for_run(error, CLI, {}) is error
    # the schedule's run uses the resource's defaults; a user name typed into the Launchpad is not echoed
    scheduled = str(for_run(error, SCHEDULE, {}))
    assert scheduled == (
        "xmatters: HTTP 401 from https://acme.xmatters.com/api/xm/1/groups: Unauthorized (check the user "
        "name and password of the code location: resources.xmatters.config.username (its variable "
        "BATON_USERNAME) and resources.xmatters.config.password (its variable BATON_PASSWORD))"
    )
    typed = {"resources": {"xmatters": {"config": {"username": "ops-sync"}}}}
    launched = str(for_run(error, {}, typed))
    assert "resources.xmatters.config.username (typed in the run's config)" in launched
    assert "ops-sync" not in launched
    assert type(for_run(error, {}, {})) is AuthError
