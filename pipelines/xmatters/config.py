"""Connection settings and their validation, done before any request is made.

Flags win over environment variables (the BATON_* names of ConductorOne's connector). A missing
value is named by both its flag and its variable; an unsafe one (plain http to a remote host) is
refused unless the user opts in explicitly, because Basic auth sends the password with every call.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from pipelines.xmatters import settings
from pipelines.xmatters.errors import ConfigError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


@dataclass(frozen=True)
class XmattersConfig:
    """Everything the client needs; `password` is kept out of `repr` so it never reaches a log."""

    base_url: str
    username: str
    password: str = field(repr=False)
    allow_insecure_http: bool = False
    ca_bundle: str | None = None
    timeout_s: float = settings.DEFAULT_TIMEOUT_S
    concurrency: int = settings.DEFAULT_CONCURRENCY
    page_size: int = settings.DEFAULT_PAGE_SIZE
    max_attempts: int = settings.DEFAULT_MAX_ATTEMPTS
    backoff_cap_s: float = settings.DEFAULT_BACKOFF_CAP_S
    max_response_mib: float = settings.DEFAULT_MAX_RESPONSE_MIB
    max_pages: int = settings.DEFAULT_MAX_PAGES

    def __post_init__(self) -> None:
        # Accept the trailing slash people paste from a browser; every path is appended to it.
        if isinstance(self.base_url, str) and self.base_url.endswith("/"):
            object.__setattr__(self, "base_url", self.base_url.rstrip("/"))

    @property
    def origin(self) -> tuple[str, str, int]:
        """(scheme, host, port) of the base URL: the only origin credentials are ever sent to."""
        return url_origin(self.base_url)

    @property
    def site_url(self) -> str:
        """scheme://host[:port], the prefix for the relative links xMatters returns."""
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    def validate(self) -> XmattersConfig:
        """Raise `ConfigError` naming the first bad setting; return self so calls can chain."""
        _require("--base-url", settings.ENV_BASE_URL, self.base_url)
        _require("--username", settings.ENV_USERNAME, self.username)
        _require("--password", settings.ENV_PASSWORD, self.password)
        _validate_base_url(self.base_url, self.allow_insecure_http)
        if self.ca_bundle is not None and not Path(self.ca_bundle).is_file():
            raise ConfigError(f"--ca-bundle {self.ca_bundle!r} is not a readable file")
        if not self.timeout_s > 0:
            raise ConfigError(f"timeout must be > 0 seconds, got {self.timeout_s}")
        if self.concurrency < 1:
            raise ConfigError(f"concurrency must be >= 1, got {self.concurrency}")
        if not 1 <= self.page_size <= settings.MAX_PAGE_SIZE:
            raise ConfigError(
                f"page size must be between 1 and {settings.MAX_PAGE_SIZE}, got {self.page_size}"
            )
        if self.max_attempts < 1:
            raise ConfigError(f"max attempts must be >= 1, got {self.max_attempts}")
        if self.backoff_cap_s < 0:
            raise ConfigError(f"backoff cap must be >= 0 seconds, got {self.backoff_cap_s}")
        if not self.max_response_mib > 0:
            raise ConfigError(f"max response size must be > 0 MiB, got {self.max_response_mib}")
        if self.max_pages < 1:
            raise ConfigError(f"max pages must be >= 1, got {self.max_pages}")
        return self

    @property
    def max_response_bytes(self) -> int:
        return int(self.max_response_mib * 2**20)

    @classmethod
    def from_sources(cls, flags: Mapping[str, str | None], env: Mapping[str, str]) -> XmattersConfig:
        """Build and validate a config from CLI flags and environment variables.

        `flags` keys may be spelled as the flag (`--base-url`) or as argparse's dest (`base_url`);
        recognised: base_url, username, password, password_file, ca_bundle, allow_insecure_http.
        The password may also come from a file (`--password-file`, `BATON_PASSWORD_FILE`) so it
        need not sit in shell history.
        """
        given = {_flag_key(k): v for k, v in flags.items() if v is not None}

        def pick(key: str, env_name: str) -> str:
            value = given.get(key)
            if value is None or value == "":
                value = env.get(env_name, "")
            return value

        password = pick("password", settings.ENV_PASSWORD)
        if not password:
            password_file = pick("password_file", settings.ENV_PASSWORD_FILE)
            if password_file:
                password = _read_password_file(password_file)
        return cls(
            base_url=pick("base_url", settings.ENV_BASE_URL).strip(),
            username=pick("username", settings.ENV_USERNAME),
            password=password,
            allow_insecure_http=_parse_bool("--allow-insecure-http", given.get("allow_insecure_http", "")),
            ca_bundle=pick("ca_bundle", settings.ENV_CA_BUNDLE) or None,
        ).validate()


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


def _require(flag: str, env_name: str, value: str | None) -> None:
    if not value:
        raise ConfigError(f"missing {flag} (or {env_name})")


def _validate_base_url(url: str, allow_insecure_http: bool) -> None:
    # The URL is echoed in messages, so refuse user info before anything could print it.
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a non-numeric port)
    except ValueError:
        raise ConfigError("--base-url is not a valid URL") from None
    if parts.username is not None or parts.password is not None:
        raise ConfigError("--base-url must not contain credentials; use --username and --password")
    if parts.scheme.lower() not in ("http", "https"):
        raise ConfigError(f"--base-url {url!r} must start with https:// (or http:// for a local server)")
    if not parts.hostname:
        raise ConfigError(f"--base-url {url!r} has no host")
    if parts.query or parts.fragment:
        raise ConfigError(f"--base-url {url!r} must not have a query or fragment")
    if not parts.path.rstrip("/").endswith(settings.API_PATH):
        raise ConfigError(
            f"--base-url {url!r} must end in {settings.API_PATH}, e.g. https://company.xmatters.com{settings.API_PATH}"
        )
    if parts.scheme.lower() == "http" and not is_loopback(parts.hostname) and not allow_insecure_http:
        raise ConfigError(
            f"--base-url {url!r} uses plain http to a remote host, which would send the password "
            "unencrypted; use https or pass --allow-insecure-http"
        )


def _flag_key(name: str) -> str:
    return name.lstrip("-").replace("-", "_")


def _parse_bool(flag: str, value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(f"{flag} must be true or false, got {value!r}")


def _read_password_file(path: str) -> str:
    try:
        with open(os.path.expanduser(path), encoding="utf-8") as handle:
            return handle.read().strip("\r\n")
    except OSError as exc:
        raise ConfigError(f"cannot read the password file {path!r}: {exc.strerror}") from None


DLT_SECTION = "sources.xmatters"
DLT_PASSWORD_KEY = "xmatters_password"  # not `password`: dlt would fall back to a bare PASSWORD env var


def dlt_configured() -> bool:
    """Whether dlt's providers hold a base URL for the source, i.e. its configuration route is used."""
    import dlt

    return bool(dlt.config.get(f"{DLT_SECTION}.base_url"))


def config_from_dlt() -> XmattersConfig:
    """Build and validate a config from dlt's providers (`.dlt/*.toml`, `SOURCES__XMATTERS__*`).

    The password is read through `dlt.secrets` with its default secret type so that dlt's run
    trace records it as `<secret>`, never the value.
    """
    import dlt

    def get(key: str, default: object = None) -> object:
        value = dlt.config.get(f"{DLT_SECTION}.{key}")
        return default if value is None else value

    password = dlt.secrets.get(f"{DLT_SECTION}.{DLT_PASSWORD_KEY}")
    if not password:
        raise ConfigError(
            f"missing [{DLT_SECTION}] {DLT_PASSWORD_KEY} in .dlt/secrets.toml "
            f"(or SOURCES__XMATTERS__{DLT_PASSWORD_KEY.upper()})"
        )
    for key in ("base_url", "username"):
        if not get(key):
            raise ConfigError(
                f"missing [{DLT_SECTION}] {key} in .dlt/config.toml (or SOURCES__XMATTERS__{key.upper()})"
            )
    try:
        config = XmattersConfig(
            base_url=str(get("base_url")),
            username=str(get("username")),
            password=str(password),
            allow_insecure_http=_parse_bool("allow_insecure_http", get("allow_insecure_http", False)),  # type: ignore[arg-type]
            ca_bundle=get("ca_bundle"),  # type: ignore[arg-type]
            timeout_s=float(get("timeout_s", settings.DEFAULT_TIMEOUT_S)),  # type: ignore[arg-type]
            concurrency=int(get("concurrency", settings.DEFAULT_CONCURRENCY)),  # type: ignore[call-overload]
            page_size=int(get("page_size", settings.DEFAULT_PAGE_SIZE)),  # type: ignore[call-overload]
            max_attempts=int(get("max_attempts", settings.DEFAULT_MAX_ATTEMPTS)),  # type: ignore[call-overload]
            backoff_cap_s=float(get("backoff_cap_s", settings.DEFAULT_BACKOFF_CAP_S)),  # type: ignore[arg-type]
            max_response_mib=float(get("max_response_mib", settings.DEFAULT_MAX_RESPONSE_MIB)),  # type: ignore[arg-type]
            max_pages=int(get("max_pages", settings.DEFAULT_MAX_PAGES)),  # type: ignore[call-overload]
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"a [{DLT_SECTION}] setting has the wrong type: {exc}") from None
    return config.validate()
