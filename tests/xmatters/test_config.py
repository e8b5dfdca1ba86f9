"""Configuration: flags over env, missing values named, unsafe URLs refused before any request."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipelines.xmatters.backoff import backoff_delay, retry_after_seconds
from pipelines.xmatters.config import XmattersConfig
from pipelines.xmatters.errors import ConfigError
from pipelines.xmatters.loader import load_raw

GOOD = "https://acme.xmatters.com/api/xm/1"
ENV = {"BATON_BASE_URL": GOOD, "BATON_USERNAME": "env-user", "BATON_PASSWORD": "env-secret"}


def test_flags_override_environment_and_a_trailing_slash_is_removed():
    config = XmattersConfig.from_sources(
        {"--base-url": "https://other.xmatters.com/api/xm/1/", "username": None}, ENV
    )
    assert config.base_url == "https://other.xmatters.com/api/xm/1"
    assert config.username == "env-user"
    assert config.password == "env-secret"


def test_environment_alone_is_enough():
    config = XmattersConfig.from_sources({}, ENV)
    assert (config.base_url, config.username, config.password) == (GOOD, "env-user", "env-secret")


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("BATON_BASE_URL", "xmatters: missing --base-url (or BATON_BASE_URL)"),
        ("BATON_USERNAME", "xmatters: missing --username (or BATON_USERNAME)"),
        (
            "BATON_PASSWORD",
            "xmatters: missing --password (or BATON_PASSWORD, --password-file, BATON_PASSWORD_FILE)",
        ),
    ],
)
def test_a_missing_value_is_named(missing, message):
    env = {k: v for k, v in ENV.items() if k != missing}
    with pytest.raises(ConfigError) as raised:
        XmattersConfig.from_sources({}, env)
    assert str(raised.value) == message


def test_the_password_can_come_from_a_file(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    env = {k: v for k, v in ENV.items() if k != "BATON_PASSWORD"}
    assert XmattersConfig.from_sources({"password_file": str(secret)}, env).password == "from-a-file"
    assert (
        XmattersConfig.from_sources({}, {**env, "BATON_PASSWORD_FILE": str(secret)}).password == "from-a-file"
    )
    with pytest.raises(ConfigError, match="cannot read the password file"):
        XmattersConfig.from_sources({"password_file": str(tmp_path / "absent")}, env)


def test_a_password_file_flag_wins_over_a_password_variable(tmp_path):
    # Flags win over variables: a BATON_PASSWORD left in the shell must not overrule --password-file.
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    assert XmattersConfig.from_sources({"password_file": str(secret)}, ENV).password == "from-a-file"
    with pytest.raises(ConfigError, match="cannot read the password file"):
        XmattersConfig.from_sources({"password_file": str(tmp_path / "absent")}, ENV)
    # --password still wins over every file; BATON_PASSWORD over BATON_PASSWORD_FILE
    flags = {"password": "typed", "password_file": str(secret)}
    assert XmattersConfig.from_sources(flags, ENV).password == "typed"
    both_variables = {**ENV, "BATON_PASSWORD_FILE": str(secret)}
    assert XmattersConfig.from_sources({}, both_variables).password == "env-secret"


def test_an_empty_password_file_is_named(tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("\n")
    env = {k: v for k, v in ENV.items() if k != "BATON_PASSWORD"}
    with pytest.raises(ConfigError) as raised:
        XmattersConfig.from_sources({"password_file": str(empty)}, env)
    assert str(raised.value) == f"xmatters: the password file {str(empty)!r} is empty"


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("ftp://acme.xmatters.com/api/xm/1", "must start with https://"),
        ("acme.xmatters.com/api/xm/1", "must start with https://"),
        ("https:///api/xm/1", "has no host"),
        ("https://acme.xmatters.com", "must end in /api/xm/1"),
        ("https://acme.xmatters.com/api/xm/2", "must end in /api/xm/1"),
        ("https://acme.xmatters.com/api/xm/1?x=1", "must not have a query"),
        ("https://acme.xmatters.com:notaport/api/xm/1", "not a valid URL"),
        ("http://acme.xmatters.com/api/xm/1", "plain http to a remote host"),
        ("http://10.0.0.5:8080/api/xm/1", "plain http to a remote host"),
    ],
)
def test_bad_base_urls_are_refused(url, fragment):
    with pytest.raises(ConfigError, match=fragment):
        XmattersConfig(url, "u", "p").validate()


def test_credentials_in_the_url_are_refused_without_echoing_them():
    with pytest.raises(ConfigError) as raised:
        XmattersConfig("https://u:hunter2@acme.xmatters.com/api/xm/1", "u", "p").validate()
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/api/xm/1", "http://localhost/api/xm/1", "http://[::1]:9/api/xm/1"]
)
def test_plain_http_to_loopback_is_allowed(url):
    assert XmattersConfig(url, "u", "p").validate().base_url == url


def test_plain_http_to_a_remote_host_needs_the_explicit_flag():
    url = "http://xmatters.internal/api/xm/1"
    flags = {"base_url": url, "--allow-insecure-http": "true"}
    assert XmattersConfig.from_sources(flags, ENV).allow_insecure_http is True


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("page_size", 0, "--page-size must be between 1 and 1000, got 0"),
        ("page_size", 1001, "--page-size must be between 1 and 1000, got 1001"),
        ("concurrency", 0, "--concurrency must be >= 1, got 0"),
        ("timeout_s", 0, "--timeout must be > 0, got 0"),
        ("max_attempts", 0, "--max-attempts must be >= 1, got 0"),
        ("backoff_cap_s", -1.0, "--backoff-cap must be >= 0, got -1"),
        ("ca_bundle", "/nonexistent/ca.pem", "--ca-bundle '/nonexistent/ca.pem' is not a readable file"),
        ("max_response_mib", 0, "--max-response-mib must be > 0, got 0"),
        ("max_pages", 0, "--max-pages must be >= 1, got 0"),
    ],
)
def test_numeric_and_file_settings_are_checked_with_one_wording_naming_the_flag(field, value, message):
    with pytest.raises(ConfigError) as raised:
        XmattersConfig(GOOD, "u", "p", **{field: value}).validate()
    assert str(raised.value) == f"xmatters: {message}"


def test_the_password_is_not_in_the_repr():
    assert "s3cr3t" not in repr(XmattersConfig(GOOD, "u", "s3cr3t"))


@pytest.mark.parametrize("path", ["/api/xm/2", "/api/xm", ""], ids=["wrong-version", "no-version", "no-path"])
def test_a_bad_base_url_costs_no_request(xm_sim, make_config, warehouse, pipelines_dir, path):
    config = make_config(base_url=f"{xm_sim.origin}{path}")
    with pytest.raises(ConfigError, match="must end in /api/xm/1"):
        load_raw(config, warehouse, pipelines_dir=pipelines_dir)
    assert xm_sim.request_count == 0
    assert not warehouse.exists()


def test_a_missing_password_costs_no_request(xm_sim, make_config, warehouse, pipelines_dir):
    with pytest.raises(ConfigError, match="missing --password"):
        load_raw(make_config(password=""), warehouse, pipelines_dir=pipelines_dir)
    assert xm_sim.request_count == 0


def test_retry_after_parsing():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("7", now) == 7.0
    assert retry_after_seconds("Thu, 01 Jan 2026 12:00:30 GMT", now) == 30.0
    assert retry_after_seconds("Thu, 01 Jan 2026 11:00:00 GMT", now) == 0.0  # in the past: go now
    assert retry_after_seconds("soon", now) is None
    for unreadable in ("nan", "-5", "inf", "1e3", "1_0", "+7", "\u0667"):  # float() reads each
        assert retry_after_seconds(unreadable, now) is None, unreadable
    assert retry_after_seconds(" 1.5 ", now) == 1.5
    assert retry_after_seconds(None, now) is None


def test_backoff_is_capped_and_grows():
    assert backoff_delay(1, cap_s=30.0, retry_after=120.0) == 30.0
    assert backoff_delay(1, cap_s=30.0, retry_after=2.0) == 2.0
    assert all(backoff_delay(20, cap_s=3.0) <= 3.0 for _ in range(50))
    assert 0.25 <= backoff_delay(1, cap_s=30.0) <= 0.5
    assert 2.0 <= backoff_delay(4, cap_s=30.0) <= 4.0
