"""The one job: the whole asset graph with its checks, run in-process.

In-process because DuckDB has one writer: separate step processes would fight over the file lock
(and start slowly on 2 cores). At most one run at a time is enforced by the instance's run queue
(dagster.yaml) and, for CLI runs, by the sync lock.
"""

import dagster as dg

from orchestration.stopping_executor import stopping_in_process_executor

SYNC_JOB_NAME = "xmatters_sync"

xmatters_sync_job = dg.define_asset_job(
    name=SYNC_JOB_NAME,
    selection=dg.AssetSelection.all(),  # without source (external) assets; the default, no BetaWarning
    executor_def=stopping_in_process_executor,  # ends a Terminated run at once (stopping_executor.py)
    description="Extract xMatters, transform to C1 tables, audit them, publish the c1 tables and the .c1z.",
    tags={"dagster/max_runtime": "7200"},
)
