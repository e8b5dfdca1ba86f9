"""The CLI's Dagster-free check of BATON_XMATTERS_CRON and BATON_XMATTERS_OWNER refuses what Dagster
refuses: it runs before the first request, Dagster's own check only when the definitions are built."""

from __future__ import annotations

import pytest
from dagster._core.definitions.utils import is_valid_owner
from dagster._utils.schedules import is_valid_cron_string

from orchestration.deployment_variables import asset_owner, cron_expression
from orchestration.schedules import build_schedule
from pipelines.xmatters.errors import ConfigError

CRONS = ["0 3 * * *", "@daily", "*/15 8-18 * * 1-5", "every night", "0 3 * * * *", "61 3 * * *", "* *", "x"]
OWNERS = ["ops@example.com", "team:identity-ops", "team:", "nobody", "a@b", "@example.com", "ops@example.c"]


@pytest.mark.parametrize("value", CRONS)
def test_cron_is_refused_exactly_when_dagster_refuses_it(monkeypatch, value: str):
    monkeypatch.setenv("BATON_XMATTERS_CRON", value)
    if is_valid_cron_string(value):
        assert cron_expression() == value
    else:
        with pytest.raises(ConfigError, match="BATON_XMATTERS_CRON .* is not a cron expression"):
            cron_expression()


@pytest.mark.parametrize("value", OWNERS)
def test_owner_is_refused_exactly_when_dagster_refuses_it(monkeypatch, value: str):
    monkeypatch.setenv("BATON_XMATTERS_OWNER", value)
    if is_valid_owner(value):
        assert asset_owner() == value
    else:
        with pytest.raises(ConfigError, match="BATON_XMATTERS_OWNER .* is not an owner"):
            asset_owner()


def test_an_empty_variable_is_unset_as_every_baton_variable(monkeypatch):
    """`export BATON_XMATTERS_CRON=` (to go back to the default) made the code location fail to load
    and every CLI sync exit 2 (`BATON_XMATTERS_CRON '' is not a cron expression`), where an empty
    BATON_XMATTERS_OWNER, like every BATON_* variable (README), counts as unset."""
    monkeypatch.setenv("BATON_XMATTERS_CRON", "")
    monkeypatch.setenv("BATON_XMATTERS_OWNER", "")
    assert (cron_expression(), asset_owner()) == ("0 3 * * *", "team:access-data")
    assert build_schedule().cron_schedule == "0 3 * * *"
