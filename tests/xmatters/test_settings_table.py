"""Each setting is declared once (`XmattersConfig`, `SyncOptions`); every route to it derives from that.

A new setting is one field of one of those tables: these tests then cover its flag, its variable,
its dlt key, the Dagster resource's config field and its check without naming it.
"""

from __future__ import annotations

import argparse

import pytest

from orchestration.resources import SyncSettings, XmattersResource
from orchestration.service.settings import ServiceSettings
from orchestration.sync_command import add_sync_arguments
from orchestration.sync_options import SyncOptions
from pipelines.xmatters.config import XmattersConfig
from pipelines.xmatters.errors import ConfigError
from pipelines.xmatters.settings_table import add_arguments, check, declared, given, values_from

TABLES = [(XmattersConfig, XmattersResource), (SyncOptions, SyncSettings)]
SAMPLE = {str: "x", int: 3, float: 0.25, bool: True}


def sync_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_sync_arguments(parser)
    return parser


@pytest.mark.parametrize(("table", "resource"), TABLES, ids=["connection", "sync"])
def test_every_setting_is_a_resource_config_field_with_its_default_and_help(table, resource):
    fields = resource.model_fields
    assert list(fields) == [item.name for item in declared(table)]
    for item in declared(table):
        assert fields[item.name].is_required() == item.spec.required, item.name
        if not item.spec.required:
            assert fields[item.name].default == item.default, item.name
        assert fields[item.name].description.startswith(item.spec.help)


@pytest.mark.parametrize(
    "table", [XmattersConfig, SyncOptions, ServiceSettings], ids=["connection", "sync", "service"]
)
def test_every_flag_and_variable_reaches_its_field(table):
    parser = argparse.ArgumentParser()
    add_arguments(parser, table)
    for item in declared(table):
        value = SAMPLE[item.type]
        if item.spec.env and item.type is not bool:
            assert values_from(table, {}, {item.spec.env: str(value)})[item.name] == value, item.spec.env
        if item.spec.flag is None:
            continue
        argv = [item.spec.flag] if item.type is bool else [item.spec.flag, str(value)]
        flags = vars(parser.parse_args(argv))
        assert values_from(table, flags, {})[item.name] == value, item.spec.flag
        assert given(table, flags, {}) == {item.name}
        if item.spec.env:  # the flag wins over the variable
            assert values_from(table, flags, {item.spec.env: "ignored"})[item.name] == value


def test_flags_not_given_leave_the_defaults_and_the_variables_in_charge():
    flags = vars(sync_parser().parse_args([]))
    assert values_from(XmattersConfig, flags, {}) == {}
    assert values_from(SyncOptions, flags, {}) == {}
    assert values_from(SyncOptions, flags, {"BATON_FILE": "from-env.c1z"}) == {"sync_file": "from-env.c1z"}


def test_a_bad_value_is_named_by_what_gave_it_in_one_wording():
    with pytest.raises(ConfigError, match="--ca-bundle '/nonexistent' is not a readable file"):
        XmattersConfig.from_sources({"ca_bundle": "/nonexistent"}, _CREDENTIALS)
    with pytest.raises(ConfigError, match="BATON_CA_BUNDLE '/nonexistent' is not a readable file"):
        XmattersConfig.from_sources({}, {"BATON_CA_BUNDLE": "/nonexistent"} | _CREDENTIALS)
    with pytest.raises(ConfigError, match="--max-drop must be a number, got 'lots'"):
        values_from(SyncOptions, {"max_drop_ratio": "lots"}, {})
    with pytest.raises(ConfigError, match="--concurrency must be an integer, got '2.5'"):
        values_from(XmattersConfig, {"concurrency": "2.5"}, {})
    with pytest.raises(ConfigError, match=r"--max-drop must be between 0 and 1, got 1\.5"):
        check(SyncOptions(max_drop_ratio=1.5))


def test_the_secret_is_kept_out_of_repr_and_marked_in_the_resource():
    assert [item.name for item in declared(XmattersConfig) if item.spec.secret] == ["password"]
    assert "p4ss" not in repr(XmattersConfig("https://a.example.com/api/xm/1", "u", "p4ss"))
    assert "{env: BATON_PASSWORD}" in XmattersResource.model_fields["password"].description


_CREDENTIALS = {
    "BATON_BASE_URL": "https://acme.xmatters.com/api/xm/1",
    "BATON_USERNAME": "u",
    "BATON_PASSWORD": "p",
}


@pytest.mark.parametrize("table", [XmattersConfig, SyncOptions], ids=["connection", "sync"])
def test_numbers_a_sync_cannot_use_are_refused_by_every_numeric_setting(table):
    """`--timeout inf` failed after the first request with dlt's `timestamp out of range for platform
    time_t`; `--history-retention 100000000000000000000` published the sync and then failed, exit 1,
    with DuckDB's `Conversion Error: Type INT128 ... out of range for ... INT64`. Refused as given."""
    numeric = [item for item in declared(table) if item.type in (int, float) and item.spec.flag]
    assert numeric
    for item in numeric:
        if item.type is float:
            for text in ("inf", "-inf", "Infinity", "nan"):
                with pytest.raises(
                    ConfigError, match=rf"{item.spec.flag} must be a finite number, got '{text}'$"
                ):
                    values_from(table, {item.name: text}, {})
        else:
            too_big = str(2**63)
            with pytest.raises(
                ConfigError, match=rf"{item.spec.flag} must be at most 9223372036854775807, got '{too_big}'$"
            ):
                values_from(table, {item.name: too_big}, {})
            assert values_from(table, {item.name: str(2**63 - 1)}, {})[item.name] == 2**63 - 1


def test_an_infinite_timeout_is_one_line_and_exit_2_before_any_request(capsys, monkeypatch, tmp_path):
    from orchestration.cli import main

    monkeypatch.chdir(tmp_path)  # without the check, a sync ran and made its home here
    monkeypatch.setenv("BATON_XMATTERS_HOME", str(tmp_path / "home"))
    argv = ["--base-url", "http://127.0.0.1:1/api/xm/1", "--username", "u", "--password", "p"]
    assert main([*argv, "--timeout", "inf", "--max-attempts", "1"]) == 2
    assert capsys.readouterr().err == (
        "baton-xmatters: error: xmatters: --timeout must be a finite number, got 'inf'\n"
    )
    assert list(tmp_path.iterdir()) == []
