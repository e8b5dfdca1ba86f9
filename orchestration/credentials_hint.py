"""What a 401 in a run tells the user to check: where that run took its credentials from.

The client's message names the CLI's flags and variables (`--username, --password or
--password-file; BATON_USERNAME, ...`). A run of the code location (the UI's, the schedule's, a
sensor's, a re-execution) took them from its resource config, which names variables of the code
location's environment; its user never typed a flag, so its message names the config fields and
the variables they name instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestration.resources import XMATTERS
from orchestration.run_tags import named_by_flags
from pipelines.xmatters.config import XmattersConfig
from pipelines.xmatters.errors import XmattersError, with_credentials_hint
from pipelines.xmatters.settings_table import declared


def for_run(error: XmattersError, tags: Mapping[str, str], run_config: Mapping[str, Any]) -> XmattersError:
    """`error` as the run with `tags` and `run_config` should show it."""
    if named_by_flags(tags):
        return error
    return with_credentials_hint(error, code_location_hint(run_config))


def code_location_hint(run_config: Mapping[str, Any]) -> str:
    """`check the user name and password of the code location: resources.xmatters.config.username
    (its variable BATON_USERNAME) and ...password (its variable BATON_PASSWORD)`, with the
    variables this run's config named (their defaults when it named none)."""
    given = run_config.get("resources", {}).get(XMATTERS, {}).get("config", {})
    variables = {item.name: item.spec.env for item in declared(XmattersConfig)}  # the fields' defaults
    named = []
    for field in ("username", "password"):
        value = given.get(field, {"env": variables[field]})
        # the user name may be typed into the run's config (it is not secret); not echoed all the same
        source = f"its variable {value['env']}" if isinstance(value, Mapping) else "typed in the run's config"
        named.append(f"resources.{XMATTERS}.config.{field} ({source})")
    return f"check the user name and password of the code location: {' and '.join(named)}"
