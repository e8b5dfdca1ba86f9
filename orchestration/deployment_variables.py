"""`BATON_XMATTERS_CRON` and `BATON_XMATTERS_OWNER`, read and checked without importing Dagster.

The CLI checks them before its first request: its member calls start during start-up
(pipelines/xmatters/early_members.py), before the definitions that use them are built. The rules
are Dagster's own (a cron expression croniter reads as 5 fields; an e-mail address or
`team:<name>`), so a value refused here is one Dagster refuses; the definitions still turn
Dagster's refusal of anything rarer (the 30th of February) into the same one-line error.
"""

import os
import re

from croniter import croniter

from pipelines.xmatters.errors import ConfigError

DEFAULT_CRON = "0 3 * * *"
DEFAULT_OWNER = "team:access-data"
# dagster._core.utils.is_valid_email, the rule Dagster applies to asset owners
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Z|a-z]{2,7}\b")


def cron_expression() -> str:
    """The schedule's cron expression: `BATON_XMATTERS_CRON`, or daily at 03:00."""
    expression = os.environ.get("BATON_XMATTERS_CRON") or DEFAULT_CRON  # empty: unset, as every BATON_*
    try:
        valid = croniter.is_valid(expression) and len(croniter.expand(expression)[0]) == 5
    except ValueError:
        valid = False
    if not valid:
        raise cron_error(expression)
    return expression


def cron_error(expression: str) -> ConfigError:
    return ConfigError(
        f"BATON_XMATTERS_CRON {expression!r} is not a cron expression (5 fields, e.g. {DEFAULT_CRON!r})"
    )


def asset_owner() -> str:
    """Who answers for the assets: `BATON_XMATTERS_OWNER`, or the default team."""
    owner = os.environ.get("BATON_XMATTERS_OWNER") or DEFAULT_OWNER
    if not (_EMAIL.fullmatch(owner) or (owner.startswith("team:") and len(owner) > len("team:"))):
        raise owner_error(owner)
    return owner


def owner_error(owner: str) -> ConfigError:
    return ConfigError(f"BATON_XMATTERS_OWNER {owner!r} is not an owner (an e-mail address or team:<name>)")


def check_deployment_variables() -> None:
    """Raises the `ConfigError` naming the first bad variable, before any request is made."""
    cron_expression()
    asset_owner()
