"""The sync schedule: daily by default, STOPPED until a user turns it on in the UI (Dagster's norm).

`BATON_XMATTERS_CRON` changes the cron expression; the daemon (`dagster dev` runs one) fires it.
"""

import dagster as dg

from orchestration.deployment_variables import cron_error, cron_expression
from orchestration.jobs import xmatters_sync_job
from orchestration.run_tags import SCHEDULE


def build_schedule(cron: str | None = None) -> dg.ScheduleDefinition:
    """The schedule; a bad `BATON_XMATTERS_CRON` is a `ConfigError` naming it (the CLI loads these
    definitions too: Dagster's own error was a 30-line traceback that never named the variable)."""
    expression = cron or cron_expression()
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
        raise cron_error(expression) from None
