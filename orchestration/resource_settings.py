"""Dagster resource config derived from a table of settings (pipelines/xmatters/settings_table.py).

A resource built on `settings_resource(SomeSettings)` has one config field per setting, with the
setting's type, default and help as its description; nothing declares them a second time. A secret
setting is given as the name of a variable (`from_environment`, the code location: the UI, the
schedule, sensors, re-executions) or, by the CLI, in a resource Dagster never serializes
(`hardcoded`): a value given as config becomes a default of the config schema, which Dagster stores
with every run's job snapshot and shows in the UI, and a value typed into the Launchpad is stored
with the run's config.
"""

from __future__ import annotations

import os
from typing import Any, TypeVar

import dagster as dg
import pydantic

from pipelines.xmatters.errors import ConfigError
from pipelines.xmatters.settings_table import Declared, declared

T = TypeVar("T")


def settings_resource(settings: type) -> type[dg.ConfigurableResource]:
    """A `ConfigurableResource` base class whose config fields are the settings of `settings`."""
    fields: dict[str, Any] = {}
    for item in declared(settings):
        field_type: Any = item.type | None if item.optional else item.type
        secret = f" (secret: give it as {{env: {item.spec.env}}})" if item.spec.secret else ""
        description = item.spec.help + secret
        if item.spec.required:
            fields[item.name] = (field_type, pydantic.Field(description=description))
        else:
            fields[item.name] = (field_type, pydantic.Field(default=item.default, description=description))
    return pydantic.create_model(  # type: ignore[call-overload, no-any-return]
        f"{settings.__name__}Fields", __base__=dg.ConfigurableResource, __module__=__name__, **fields
    )


def settings_of(resource: dg.ConfigurableResource, settings: type[T]) -> T:
    """The resource's config as an instance of its settings dataclass (not yet validated)."""
    return settings(**{item.name: getattr(resource, item.name) for item in declared(settings)})


def config_labels(resource_key: str, settings: type) -> dict[str, str]:
    """Each setting named by its path in a run's config (`resources.sync_settings.config.max_drop_ratio`),
    and its variable when it has one (the code location reads `base_url` from `BATON_BASE_URL`), for
    `settings_table.check`: a value refused at launch was typed in the Launchpad or set in the code
    location's environment, not given as the CLI flag the setting's own label names (`--max-drop`)."""
    labels = {}
    for item in declared(settings):
        path = f"resources.{resource_key}.config.{item.name}"
        labels[item.name] = f"{path} ({item.spec.env})" if item.spec.env else path
    return labels


def hardcoded(resource: dg.ConfigurableResource) -> dg.ResourceDefinition:
    """`resource` for one in-process run with none of its values in the run's stored job snapshot.

    Use it when a value is secret and there is no environment variable to point an `EnvVar` at
    (the CLI's `--password` or `--password-file`); the run only sees the object in memory.
    """
    return dg.ResourceDefinition.hardcoded_resource(resource, description=type(resource).__doc__)


def from_environment(
    resource_key: str, resource_type: type[dg.ConfigurableResource], settings: type
) -> dg.ResourceDefinition:
    """`resource_type`, at `resource_key`, for the code location: a required setting with a variable
    defaults to it (`{env: BATON_BASE_URL}`), and a secret one is taken from a variable only.

    Dagster stores a run's config with the run (runs.db) and shows it on the run page ("View tags
    and config"). The `StringSource` Dagster gives a `str` field accepts `password: "..."` as well
    as `{env: BATON_PASSWORD}`, so a password typed into the Launchpad stayed there. A secret's
    field here is the shape `{env: String}`: Dagster's own validation of the run config, which the
    webserver does before it creates the run (`create_valid_pipeline_run`, then `create_run`) and
    the code location when it plans a re-execution, refuses a value with `Value at path
    root:resources:xmatters:config:password must be dict. Expected: "{ env: String }".` (Dagster's
    wording: its validation messages take no text of ours), and nothing of it is stored. The
    variable is read when the resource is set up in the run, and its name is all the run keeps.
    """
    schema = resource_type.to_config_schema().as_field().config_type
    fields = dict(schema.fields)  # type: ignore[attr-defined]
    secrets = [item for item in declared(settings) if item.spec.secret]
    for item in declared(settings):
        if item.spec.env is None or not (item.spec.secret or item.spec.required):
            continue
        field = fields[item.name]
        config_type = _variable_name(item) if item.spec.secret else field.config_type
        default = {"env": item.spec.env}
        fields[item.name] = dg.Field(config_type, default_value=default, description=field.description)
    labels = {item.name: f"resources.{resource_key}.config.{item.name}" for item in secrets}

    def create(context: dg.InitResourceContext) -> dg.ConfigurableResource:
        config = dict(context.resource_config)
        for item in secrets:
            config[item.name] = _read_variable(config[item.name]["env"], labels[item.name])
        return resource_type(**config)

    # the UI's Resources page names a resource by its function ("create" told nothing)
    create.__name__ = create.__qualname__ = resource_type.__name__
    return dg.ResourceDefinition(
        resource_fn=create, config_schema=type(schema)(fields), description=resource_type.__doc__
    )


def _variable_name(item: Declared) -> dg.Shape:
    return dg.Shape(
        {
            "env": dg.Field(
                str,
                description=f"the variable of the code location's environment that holds the {item.name} "
                f"(e.g. {item.spec.env}); a value typed here would be stored with the run",
            )
        }
    )


def _read_variable(name: str, label: str) -> str:
    value = os.environ.get(name)
    if value is None:
        raise ConfigError(f"{label} names {name}, a variable not set in the code location's environment")
    return value
