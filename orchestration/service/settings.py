"""The service-mode settings, declared once as data: name, flag, environment variable, secret or not, help.

Why data: the argparse flags and the environment reading are both derived from `SETTINGS`, so a
setting cannot have a flag that its variable disagrees with, and moving these rows into the
project's settings table later is one line each. Names and variables are baton-sdk's
(`pkg/field/defaults.go`); `BATON_HOST_ID` and `BATON_C1_API_HOST` have no flag there either.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Setting:
    name: str  # the argparse dest and ServiceSettings field
    env: str
    flag: str | None  # None: environment only, as in baton-sdk
    help: str
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "client_id", "BATON_CLIENT_ID", "--client-id", "C1 connector client id; with the secret: service mode"
    ),
    Setting(
        "client_secret", "BATON_CLIENT_SECRET", "--client-secret", "C1 connector client secret", secret=True
    ),
    Setting("host_id", "BATON_HOST_ID", None, "host id sent to C1 (default: the hostname)"),
    Setting(
        "c1_api_host", "BATON_C1_API_HOST", None, "host[:port] replacing the tenant host of the client id"
    ),
    Setting("c1z_temp_dir", "BATON_C1Z_TEMP_DIR", "--c1z-temp-dir", "directory for each task's .c1z"),
)


@dataclass(frozen=True)
class ServiceSettings:
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    host_id: str = ""
    c1_api_host: str = ""
    c1z_temp_dir: str = ""

    @property
    def enabled(self) -> bool:
        """Service mode is on when either credential is given (a lone one is then an error, as in baton)."""
        return bool(self.client_id or self.client_secret)


def add_service_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("ConductorOne service mode (flags win over BATON_* variables)")
    for setting in SETTINGS:
        if setting.flag:
            group.add_argument(setting.flag, dest=setting.name, help=f"{setting.help} (${setting.env})")


def read_settings(options: argparse.Namespace, env: Mapping[str, str] | None = None) -> ServiceSettings:
    """Flag if given, else the variable, else empty."""
    env = os.environ if env is None else env
    values: dict[str, str] = {}
    for setting in SETTINGS:
        given = getattr(options, setting.name, None) if setting.flag else None
        values[setting.name] = (given if given else env.get(setting.env, "")).strip()
    return ServiceSettings(**values)


def secret_values(settings: ServiceSettings) -> list[str]:
    """The values never to print: for scrubbing output in tests and logs."""
    return [getattr(settings, s.name) for s in SETTINGS if s.secret and getattr(settings, s.name)]
