"""The sync schedule: daily by default, STOPPED until a user turns it on in the UI (Dagster's norm).

`BATON_XMATTERS_CRON` changes the cron expression; the daemon (`dagster dev` runs one) fires it.
"""

import os

import dagster as dg

from orchestration.jobs import xmatters_sync_job
from orchestration.run_tags import SCHEDULE
from pipelines.xmatters.errors import ConfigError

DEFAULT_CRON = "0 3 * * *"


def build_schedule(cron: str | None = None) -> dg.ScheduleDefinition:
    """The schedule; a bad `BATON_XMATTERS_CRON` is a `ConfigError` naming it (the CLI loads these
    definitions too: Dagster's own error was a 30-line traceback that never named the variable)."""
    expression = cron or os.environ.get("BATON_XMATTERS_CRON", DEFAULT_CRON)
    try:
        return dg.ScheduleDefinition(
            name="xmatters_sync_daily",
            job=xmatters_sync_job,
            cron_schedule=expression,
            default_status=dg.DefaultScheduleStatus.STOPPED,
            tags=SCHEDULE,
            description="Full xMatters sync; turn it on in the UI (Automation) once credentials are set.",
        )
    except dg.DagsterInvalidDefinitionError:
        raise ConfigError(
            f"BATON_XMATTERS_CRON {expression!r} is not a cron expression (5 fields, e.g. {DEFAULT_CRON!r})"
        ) from None
