"""`baton-xmatters` with a C1 client id and secret: check everything, then serve C1 until SIGTERM.

Every setting is checked before the first request (a malformed secret is one line that never shows
it). SIGTERM and SIGINT stop polling, stop a running sync (its task finishes as CANCELLED) and exit 0.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
from collections.abc import Mapping
from typing import Any

from orchestration.service.access_token import TokenSource
from orchestration.service.client import BatonClient
from orchestration.service.credentials import CredentialError, parse_credentials
from orchestration.service.hello import PACKAGE, default_host_id, package_version
from orchestration.service.loop import FatalServiceError, Service, ServiceSetupError
from orchestration.service.settings import ServiceSettings, SettingError, check_api_host
from orchestration.service.stop_signals import stop_on_signals
from orchestration.service.task_dirs import remove_stale
from orchestration.service.tls import TlsConfigError, grpc_root_certificates, http_context
from orchestration.sync_command import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    build_options,
    fail,
    plan_from_options,
)
from pipelines.xmatters.errors import XmattersError

logger = logging.getLogger("baton_xmatters.service")


def run_service(options: argparse.Namespace, settings: ServiceSettings) -> int:
    if (unused := sync_file_given(options, os.environ)) is not None:
        return fail(
            f"{unused} has no effect in service mode: each C1 task's .c1z is written under --c1z-temp-dir "
            "(BATON_C1Z_TEMP_DIR, default the system temp dir) and uploaded to C1; leave it out",
            EXIT_USAGE,
        )
    try:
        credentials = parse_credentials(settings.client_id, settings.client_secret)
        if settings.c1_api_host:
            check_api_host(settings.c1_api_host)
        plan = plan_from_options(options, os.environ)  # the xMatters settings, checked now, not per task
        context = http_context()
        roots = grpc_root_certificates()
        check_temp_dir(settings.c1z_temp_dir or None)
    except (CredentialError, SettingError, TlsConfigError, XmattersError) as exc:
        return fail(str(exc), EXIT_USAGE)
    remove_stale(settings.c1z_temp_dir or None)  # task directories a killed service left
    api_host = settings.c1_api_host or credentials.client_id.token_host
    host_id = settings.host_id or default_host_id()
    tokens = TokenSource(credentials, api_host, context)
    user_agent = f"{credentials.client_id.client_name} {PACKAGE}/{package_version()}"
    client = BatonClient(api_host, host_id, tokens, roots, user_agent)
    sync_options = _sync_options(options, plan.config.base_url, plan.config.username, plan.config.password)
    try:
        with stop_on_signals() as stop:
            Service(client, sync_options, settings.c1z_temp_dir or None, stop).run()
    except FatalServiceError as exc:
        return fail(str(exc), EXIT_USAGE if isinstance(exc, ServiceSetupError) else EXIT_FAILED)
    finally:
        client.close()
    logger.info("service stopped")
    return EXIT_OK


def check_temp_dir(directory: str | None) -> None:
    """Each task makes its directory there: try it now, not at the first task.

    Why: a read-only filesystem (a hardened pod's root, where the default temp dir is) or a missing
    directory otherwise surfaces only when C1 hands out a task.
    """
    where = directory or "the system temp dir"
    try:  # with no directory given, mkdtemp finds one ($TMPDIR, /tmp, ...) or raises
        os.rmdir(tempfile.mkdtemp(prefix="baton-xmatters-probe-", dir=directory))
    except OSError as exc:
        raise SettingError(
            f"cannot write each task's .c1z under {where} (--c1z-temp-dir/BATON_C1Z_TEMP_DIR, default "
            f"the system temp dir): {exc.strerror or exc}"
        ) from None


def sync_file_given(options: argparse.Namespace, env: Mapping[str, str]) -> str | None:
    """`-f/--file` or `BATON_FILE` when one is set: the name to refuse it by, else None.

    In baton-sdk's service mode the task decides where its `.c1z` goes (a temporary file, uploaded
    and deleted) and Go connectors ignore `--file` without a word; a user who passes it expects a
    file there that never appears, so it is refused instead of ignored.
    """
    if getattr(options, "sync_file", None) is not None:
        return "-f/--file"
    return "BATON_FILE" if env.get("BATON_FILE") else None


def _sync_options(options: argparse.Namespace, base_url: str, username: str, password: str) -> dict[str, Any]:
    """The sync flags the service was started with, with the resolved connection (for child.py)."""
    known = vars(build_options())
    values = {key: getattr(options, key, default) for key, default in known.items()}
    values.update(base_url=base_url, username=username, password=password, password_file=None)
    return values
