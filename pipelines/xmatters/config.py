"""The connection settings, declared once, and their validation, done before any request is made.

Flags win over environment variables (the BATON_* names of ConductorOne's connector). A missing
value is named by both its flag and its variable; an unsafe one (plain http to a remote host) is
refused unless the user opts in explicitly, because Basic auth sends the password with every call.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pipelines.xmatters import settings
from pipelines.xmatters.errors import ConfigError
from pipelines.xmatters.settings_table import (
    at_least,
    between,
    check,
    positive,
    readable_file,
    setting,
    values_from,
    values_from_dlt,
)

CONNECTION = "xMatters connection (flags win over BATON_* variables)"
ADVANCED = "advanced (retries, timeouts, limits)"


@dataclass(frozen=True)
class XmattersConfig:
    """Everything the client needs: the table of the connection settings, one line each.

    The CLI's flags, the BATON_* variables, dlt's `[sources.xmatters]` keys, the Dagster resource's
    config and the checks all derive from these fields (pipelines/xmatters/settings_table.py). The
    password is secret: out of `repr`, read by dlt as a secret, never in Dagster's config schema.
    """

    # A table: one declaration per setting, alike in shape by design (`duplicates` pairs them).
    base_url: str = setting(
        "e.g. https://company.xmatters.com/api/xm/1",
        group=CONNECTION,
        flag="--base-url",
        env="BATON_BASE_URL",
        required=True,
    )
    username: str = setting(
        "user name, or x-api-key-<id> for an API key",
        group=CONNECTION,
        flag="--username",
        env="BATON_USERNAME",
        required=True,
    )
    password: str = setting(
        "password or API key secret",
        group=CONNECTION,
        flag="--password",
        env="BATON_PASSWORD",
        secret=True,
        required=True,
        file_flag="--password-file",
        file_env="BATON_PASSWORD_FILE",
        dlt_key="xmatters_password",
    )
    allow_insecure_http: bool = setting(
        "allow plain http to a host other than loopback (sends the password unencrypted)",
        default=False,
        group=CONNECTION,
        flag="--allow-insecure-http",
    )
    ca_bundle: str | None = setting(
        "CA bundle for a private CA; TLS is always verified",
        group=CONNECTION,
        flag="--ca-bundle",
        env="BATON_CA_BUNDLE",
        check=readable_file,
    )
    concurrency: int = setting(
        "most member calls in flight at once: 8 at first, more while the server answers without 429/5xx, "
        "halved on one",
        default=32,
        group=CONNECTION,
        flag="--concurrency",
        check=at_least(1),
    )
    timeout_s: float = setting(
        "seconds for a whole response: connect, headers and body",
        default=30.0,
        group=ADVANCED,
        flag="--timeout",
        check=positive,
    )
    max_attempts: int = setting(
        "attempts per request on 429, 5xx, network errors",
        default=6,
        group=ADVANCED,
        flag="--max-attempts",
        check=at_least(1),
    )
    backoff_cap_s: float = setting(
        "longest wait between attempts in seconds, also for a longer Retry-After",
        default=30.0,
        group=ADVANCED,
        flag="--backoff-cap",
        check=at_least(0),
    )
    page_size: int = setting(
        "items per page requested from xMatters (at most 1000)",
        default=settings.MAX_PAGE_SIZE,
        group=ADVANCED,
        flag="--page-size",
        check=between(1, settings.MAX_PAGE_SIZE),
    )
    max_response_mib: float = setting(
        "refuse a response whose decoded body is larger, in MiB",
        # 64 MiB: a page of 1,000 people is ~1 MB, and the member-call process needs ~4 bytes per
        # byte of its largest page (read, decoded, batched; docs/benchmarks.md, twenty-first round):
        # 790 MB at 256 MiB, ~370 MB at 64
        default=64.0,
        group=ADVANCED,
        flag="--max-response-mib",
        check=positive,
    )  # a gzip bomb, a runaway page
    max_pages: int = setting(
        "most pages read from one listing (fewer when its first page states a total)",
        default=settings.DEFAULT_MAX_PAGES,
        group=ADVANCED,
        flag="--max-pages",
        check=at_least(1),
    )

    def __post_init__(self) -> None:
        # Accept the blanks and the trailing slash people paste from a browser; every path is
        # appended to it.
        if isinstance(self.base_url, str):
            object.__setattr__(self, "base_url", self.base_url.strip().rstrip("/"))

    @property
    def origin(self) -> tuple[str, str, int]:
        """(scheme, host, port) of the base URL: the only origin credentials are ever sent to."""
        return url_origin(self.base_url)

    @property
    def site_url(self) -> str:
        """scheme://host[:port], the prefix for the relative links xMatters returns."""
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    def validate(self, labels: Mapping[str, str] | None = None) -> XmattersConfig:
        """Raise `ConfigError` naming the first bad setting; return self so calls can chain.

        `labels` (from `values_from`) say what gave each setting, so a bad `BATON_BASE_URL` is named
        as such, not as the `--base-url` the user never typed.
        """
        check(self, labels)
        label = (labels or {}).get("base_url", "--base-url")
        _validate_base_url(self.base_url, self.allow_insecure_http, label)  # depends on two settings
        return self

    @property
    def max_response_bytes(self) -> int:
        return int(self.max_response_mib * 2**20)

    @classmethod
    def from_sources(cls, flags: Mapping[str, Any], env: Mapping[str, str]) -> XmattersConfig:
        """Build and validate a config from CLI flags (None: not given) and BATON_* variables."""
        labels: dict[str, str] = {}
        return cls(**values_from(cls, flags, env, labels)).validate(labels)

    @classmethod
    def from_dlt(cls, flags: Mapping[str, Any] | None = None) -> XmattersConfig:
        """Build and validate a config from dlt's providers (`.dlt/*.toml`, `SOURCES__XMATTERS__*`),
        with the flags that were given on top (a tuning flag wins over its dlt key)."""
        labels: dict[str, str] = {}
        from_dlt = values_from_dlt(cls, DLT_SECTION, labels)
        given = values_from(cls, flags or {}, {}, labels)
        return cls(**{**from_dlt, **given}).validate(labels)


def url_origin(url: str) -> tuple[str, str, int]:
    """(scheme, lower-case host, port with the scheme's default filled in)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, (parts.hostname or "").lower(), port


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _validate_base_url(url: str, allow_insecure_http: bool, label: str = "--base-url") -> None:
    # The URL is echoed in messages, so refuse user info before anything could print it.
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a non-numeric port)
    except ValueError as exc:
        # Python's reason names the part (port, IPv6 brackets); one that quotes a netloc with user
        # info (NFKC-invalid characters) is not shown: the password would be in it
        reason = str(exc)
        shown = f": {reason[:1].lower()}{reason[1:]}" if reason and "@" not in reason else ""
        raise ConfigError(f"{label} is not a valid URL{shown}") from None
    if parts.username is not None or parts.password is not None:
        raise ConfigError(f"{label} must not contain credentials; use --username and --password")
    if parts.scheme.lower() not in ("http", "https"):
        raise ConfigError(f"{label} {url!r} must start with https:// (or http:// for a local server)")
    if not parts.hostname:
        raise ConfigError(f"{label} {url!r} has no host")
    if parts.query or parts.fragment:
        raise ConfigError(f"{label} {url!r} must not have a query or fragment")
    if not parts.path.rstrip("/").endswith(settings.API_PATH):
        raise ConfigError(
            f"{label} {url!r} must end in {settings.API_PATH}, e.g. https://company.xmatters.com{settings.API_PATH}"
        )
    if parts.scheme.lower() == "http" and not is_loopback(parts.hostname) and not allow_insecure_http:
        raise ConfigError(
            f"{label} {url!r} uses plain http to a remote host, which would send the password "
            "unencrypted; use https or pass --allow-insecure-http"
        )


DLT_SECTION = "sources.xmatters"


def dlt_configured() -> bool:
    """Whether dlt's providers hold a base URL for the source, i.e. its configuration route is used."""
    import dlt

    return bool(dlt.config.get(f"{DLT_SECTION}.base_url"))
