"""What the launchpad lets a person type into `sync_settings` is checked as the CLI checks its flags.

Dagster checks a config value's type only: `max_drop_ratio: 5` (or `-0.3`) ran, where the CLI refuses
`--max-drop 5` before any request. The refusal names the field as the Launchpad shows it (the CLI
names its flag: tests/xmatters/test_settings_table.py).
"""

from __future__ import annotations

import dagster as dg
import pytest

from orchestration.definitions import build_definitions
from orchestration.resources import SyncSettings, XmattersResource
from tests.orchestration.conftest import use_simulator


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        # named as typed in the Launchpad, not as the CLI's `--max-drop` the user never saw there
        (
            "max_drop_ratio",
            5.0,
            "resources.sync_settings.config.max_drop_ratio must be between 0 and 1, got 5",
        ),
        (
            "max_drop_ratio",
            -0.3,
            "resources.sync_settings.config.max_drop_ratio must be between 0 and 1, got -0.3",
        ),
        ("history_retention", 0, "resources.sync_settings.config.history_retention must be >= 1, got 0"),
    ],
)
def test_a_sync_setting_the_cli_refuses_fails_the_run_before_any_request(
    simulator, data_home, tmp_path, monkeypatch, field, value, says
):
    use_simulator(monkeypatch, simulator)
    sync_file = tmp_path / "sync.c1z"
    settings = SyncSettings(sync_file=str(sync_file), **{field: value})
    _assert_refused_before_any_request({"sync_settings": settings}, says, simulator, sync_file)


def _assert_refused_before_any_request(resources, says, simulator, sync_file):
    """The run fails with `says` in its failure (or a cause of it), before any request or file."""
    job = build_definitions(resources).resolve_implicit_global_asset_job_def()
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    causes = [
        cause.message
        for event in result.all_events
        if event.is_failure and event.event_specific_data is not None
        for cause in _chain(event.event_specific_data.error)
    ]
    assert any(says in cause for cause in causes), causes
    assert simulator.requests == []
    assert not sync_file.exists()


def _chain(error):
    while error is not None:
        yield error
        error = error.cause


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ({"page_size": 0}, "resources.xmatters.config.page_size must be between 1 and 1000, got 0"),
        # the code location reads base_url from BATON_BASE_URL: both are named
        (
            {"base_url": "ftp://127.0.0.1/api/xm/1"},
            "resources.xmatters.config.base_url (BATON_BASE_URL) 'ftp://127.0.0.1/api/xm/1' must start with "
            "https://",
        ),
    ],
)
def test_a_connection_setting_refused_in_a_run_names_its_config_field(
    simulator, data_home, tmp_path, monkeypatch, config, says
):
    """It named the CLI's `--page-size` / `--base-url`, which a Launchpad or schedule run never has."""
    use_simulator(monkeypatch, simulator)
    fields = {"base_url": dg.EnvVar("BATON_BASE_URL"), "username": dg.EnvVar("BATON_USERNAME")}
    xmatters = XmattersResource(**{**fields, "password": dg.EnvVar("BATON_PASSWORD"), **config})
    sync_file = tmp_path / "sync.c1z"
    resources = {"xmatters": xmatters, "sync_settings": SyncSettings(sync_file=str(sync_file))}
    _assert_refused_before_any_request(resources, says, simulator, sync_file)


def test_the_code_location_refuses_a_password_typed_as_config(data_home, monkeypatch):
    """A password typed into the Launchpad (`password: "..."`) was accepted and stored with the run
    (tests/ui/test_failed_run_ui.py launches it against a webserver); the job's config schema, which
    Dagster validates before it creates a run, takes a variable's name only."""
    job = build_definitions().resolve_job_def("xmatters_sync")
    typed = {"resources": {"xmatters": {"config": {"password": "typed-5ecret"}}}}
    with pytest.raises(dg.DagsterInvalidConfigError) as refused:
        dg.validate_run_config(job, typed)
    assert [error.message for error in refused.value.errors] == [
        'Value at path root:resources:xmatters:config:password must be dict. Expected: "{ env: String }".'
    ]
    # alone: base URL and user keep their defaults, {env: BATON_BASE_URL} and {env: BATON_USERNAME}
    monkeypatch.setenv("BATON_BASE_URL", "https://acme.xmatters.com/api/xm/1")
    monkeypatch.setenv("BATON_USERNAME", "u")
    named = {"resources": {"xmatters": {"config": {"password": {"env": "OTHER_PASSWORD"}}}}}
    config = dg.validate_run_config(job, named)["resources"]["xmatters"]["config"]
    assert (config["base_url"], config["password"]) == (
        "https://acme.xmatters.com/api/xm/1",
        {"env": "OTHER_PASSWORD"},  # the name only: the run reads it
    )


def test_a_password_variable_not_set_fails_the_run_naming_it(simulator, data_home, tmp_path, monkeypatch):
    use_simulator(monkeypatch, simulator)
    sync_file = tmp_path / "sync.c1z"
    job = build_definitions({"sync_settings": SyncSettings(sync_file=str(sync_file))}).resolve_job_def(
        "xmatters_sync"
    )
    named = {"resources": {"xmatters": {"config": {"password": {"env": "NOT_SET_PASSWORD"}}}}}
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(run_config=named, instance=instance, raise_on_error=False)
    assert not result.success
    causes = [
        cause.message
        for event in result.all_events
        if event.is_failure and event.event_specific_data is not None
        for cause in _chain(event.event_specific_data.error)
    ]
    says = (
        "resources.xmatters.config.password names NOT_SET_PASSWORD, a variable not set in the code location"
    )
    assert any(says in cause for cause in causes), causes
    assert simulator.requests == []
    assert not sync_file.exists()


def test_the_password_variable_is_read_by_the_run(simulator, data_home, tmp_path, monkeypatch):
    """`{env: OTHER_PASSWORD}` reads that variable: BATON_PASSWORD, wrong here, is not used."""
    use_simulator(monkeypatch, simulator)
    monkeypatch.setenv("OTHER_PASSWORD", simulator.password)
    monkeypatch.setenv("BATON_PASSWORD", "wrong-password")
    resources = {"sync_settings": SyncSettings(sync_file=str(tmp_path / "sync.c1z"))}
    job = build_definitions(resources).resolve_job_def("xmatters_sync")
    named = {"resources": {"xmatters": {"config": {"password": {"env": "OTHER_PASSWORD"}}}}}
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(run_config=named, instance=instance)
    assert result.success


def test_the_resources_page_names_the_code_locations_xmatters_resource_by_its_type(data_home):
    """Dagster shows a function-built resource by its module and function name: it read `create`."""
    from dagster._config.pythonic_config.resource import get_resource_type_name  # what the UI shows

    resource = build_definitions().resources["xmatters"]
    assert get_resource_type_name(resource).endswith(".XmattersResource")
