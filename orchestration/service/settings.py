"""The service-mode settings: a table of the project's settings machinery, one declaration each.

The argparse flags, the environment reading and the secret handling all derive from the fields of
`ServiceSettings` (pipelines/xmatters/settings_table.py), as for the connection and sync settings.
Names and variables are baton-sdk's (`pkg/field/defaults.go`); `BATON_HOST_ID` and
`BATON_C1_API_HOST` have no flag there either.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from pipelines.xmatters.settings_table import add_arguments, declared, setting, values_from

SERVICE = "ConductorOne service mode (flags win over BATON_* variables)"


@dataclass(frozen=True)
class ServiceSettings:
    # A table: one declaration per setting, alike in shape by design (`duplicates` pairs them).
    client_id: str = setting(
        "C1 connector client id; with the secret: service mode",
        default="",
        group=SERVICE,
        flag="--client-id",
        env="BATON_CLIENT_ID",
    )
    client_secret: str = setting(
        "C1 connector client secret",
        default="",
        group=SERVICE,
        flag="--client-secret",
        env="BATON_CLIENT_SECRET",
        secret=True,
    )
    host_id: str = setting("host id sent to C1 (default: the hostname)", default="", env="BATON_HOST_ID")
    c1_api_host: str = setting(
        "host[:port] replacing the tenant host of the client id", default="", env="BATON_C1_API_HOST"
    )
    c1z_temp_dir: str = setting(
        "directory for each task's .c1z",
        default="",
        group=SERVICE,
        flag="--c1z-temp-dir",
        env="BATON_C1Z_TEMP_DIR",
    )

    @property
    def enabled(self) -> bool:
        """Service mode is on when either credential is given (a lone one is then an error, as in baton)."""
        return bool(self.client_id or self.client_secret)


class SettingError(Exception):
    """A service setting that cannot work: one line naming it, exit 2."""


_HOST_PORT = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::(?P<port>[0-9]{1,5}))?")


def check_api_host(value: str) -> str:
    """`BATON_C1_API_HOST` as baton-sdk uses it: a host with an optional port, nothing else.

    Why checked: the value goes into `https://<value>/auth/v1/token` and the gRPC target as is, so
    a pasted URL or a trailing slash became endless DNS failures or a 404 that read as refused
    credentials, where one line at start-up says what is wrong.
    """
    match = _HOST_PORT.fullmatch(value)
    port = match and match.group("port")
    if not match or (port is not None and not 1 <= int(port) <= 65535):
        raise SettingError(
            f"BATON_C1_API_HOST {value!r} is not host[:port] (e.g. tenant.conductor.one or localhost:8443)"
        )
    return value


def add_service_arguments(parser: argparse.ArgumentParser) -> None:
    add_arguments(parser, ServiceSettings)


def read_settings(options: argparse.Namespace, env: Mapping[str, str] | None = None) -> ServiceSettings:
    """Flag if given, else the variable, else empty; blanks around a pasted value dropped."""
    env = os.environ if env is None else env
    values = values_from(ServiceSettings, vars(options), env)
    return ServiceSettings(**{name: value.strip() for name, value in values.items()})


def secret_values(settings: ServiceSettings) -> list[str]:
    """The values never to print: for scrubbing output in tests and logs."""
    return [
        getattr(settings, s.name)
        for s in declared(ServiceSettings)
        if s.spec.secret and getattr(settings, s.name)
    ]
