"""The xMatters connection flags, shared by every command that talks to xMatters.

The names are the C1 connector's (`--base-url`, `--username`, `--password`, BATON_* variables);
`--password-file`, `--ca-bundle`, `--allow-insecure-http` and `--concurrency` are ours. Both the
`baton-xmatters` sync and the raw-layer example (`python -m pipelines.xmatters_pipeline`) use
these, so the two can never disagree on a flag's name, default or meaning.
"""

from __future__ import annotations

import argparse

from pipelines.xmatters import settings


def add_connection_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument("--base-url", help="e.g. https://company.xmatters.com/api/xm/1 ($BATON_BASE_URL)")
    parser.add_argument("--username", help="user name, or x-api-key-<id> for an API key ($BATON_USERNAME)")
    parser.add_argument("--password", help="password or API key secret ($BATON_PASSWORD)")
    parser.add_argument("--password-file", help="read the password from this file ($BATON_PASSWORD_FILE)")
    parser.add_argument(
        "--ca-bundle", help="CA bundle for a private CA; TLS is always verified ($BATON_CA_BUNDLE)"
    )
    parser.add_argument(
        "--allow-insecure-http",
        action="store_true",
        help="allow plain http to a host other than loopback (sends the password unencrypted)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=settings.DEFAULT_CONCURRENCY,
        help=f"member calls in flight at once (default {settings.DEFAULT_CONCURRENCY})",
    )


def connection_flags(options: argparse.Namespace) -> dict[str, str | None]:
    """The flags as `XmattersConfig.from_sources` takes them (None: not given, BATON_* decides)."""
    return {
        "base_url": options.base_url,
        "username": options.username,
        "password": options.password,
        "password_file": options.password_file,
        "ca_bundle": options.ca_bundle,
        "allow_insecure_http": "true" if options.allow_insecure_http else None,
    }
