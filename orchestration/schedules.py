"""The sync schedule: daily by default, STOPPED until a user turns it on in the UI (Dagster's norm).

`BATON_XMATTERS_CRON` changes the cron expression; the daemon (`dagster dev` runs one) fires it.
"""

import os

import dagster as dg

from orchestration.jobs import xmatters_sync_job
from orchestration.run_tags import SCHEDULE

DEFAULT_CRON = "0 3 * * *"


def build_schedule(cron: str | None = None) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="xmatters_sync_daily",
        job=xmatters_sync_job,
        cron_schedule=cron or os.environ.get("BATON_XMATTERS_CRON", DEFAULT_CRON),
        default_status=dg.DefaultScheduleStatus.STOPPED,
        tags=SCHEDULE,
        description="Full xMatters sync; turn it on in the UI (Automation) once credentials are set.",
    )
