"""Dagster resource config derived from a table of settings (pipelines/xmatters/settings_table.py).

A resource built on `settings_resource(SomeSettings)` has one config field per setting, with the
setting's type, default and help as its description; nothing declares them a second time. A secret
setting is given as `EnvVar` (the UI and the schedule) or, by the CLI, in a resource Dagster never
serializes (`hardcoded`): a value given as config becomes a default of the config schema, which
Dagster stores with every run's job snapshot and shows in the UI.
"""

from __future__ import annotations

from typing import Any, TypeVar

import dagster as dg
import pydantic

from pipelines.xmatters.settings_table import declared

T = TypeVar("T")


def settings_resource(settings: type) -> type[dg.ConfigurableResource]:
    """A `ConfigurableResource` base class whose config fields are the settings of `settings`."""
    fields: dict[str, Any] = {}
    for item in declared(settings):
        field_type: Any = item.type | None if item.optional else item.type
        description = item.spec.help + (" (secret: give it as EnvVar)" if item.spec.secret else "")
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
