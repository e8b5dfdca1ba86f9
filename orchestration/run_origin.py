"""A CLI run recorded as a run of the code location's job, so the UI can re-execute it.

`execute_in_process` records no remote job origin, and the UI's "Re-execute" finds the job to run
by its parent run's origin: on a CLI run it failed with a dialog reading `CheckError: Expected
non-None value: None`. The CLI's run now carries the origin of the same job in the code location
(`workspace.yaml`'s `baton_xmatters`, also pyproject's `[tool.dagster]`), and a re-execution runs
there like any run launched from the UI: with the location's resources (its credentials from
BATON_* variables, its warehouse and settings) and the parent's run config, which holds no
resource of the CLI's (the CLI hands its run the resource objects, the password in one Dagster
never serializes: `resource_settings.hardcoded`). Nothing of the CLI's flags, its password least
of all, reaches it.

The origin also tags the run with its code location (`dagster/code_location`), as the UI's runs are.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dagster import DagsterInstance
    from dagster._core.remote_origin import RemoteJobOrigin

CODE_LOCATION = "baton_xmatters"  # workspace.yaml's location_name, pyproject's code_location_name
CODE_LOCATION_MODULE = "orchestration.definitions"
# Dagster's name for the repository of a module's `Definitions` (SINGLETON_REPOSITORY_NAME)
REPOSITORY = "__repository__"
PROJECT_ROOT = Path(__file__).resolve().parents[1]  # workspace.yaml's working_directory


def code_location_job_origin(job_name: str) -> RemoteJobOrigin:
    """The origin the UI's own runs of `job_name` record: the code location workspace.yaml loads."""
    from dagster._core.remote_origin import (
        ManagedGrpcPythonEnvCodeLocationOrigin,
        RemoteJobOrigin,
        RemoteRepositoryOrigin,
    )
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    location = ManagedGrpcPythonEnvCodeLocationOrigin(
        loadable_target_origin=LoadableTargetOrigin(
            executable_path=sys.executable,
            module_name=CODE_LOCATION_MODULE,
            working_directory=str(PROJECT_ROOT),
        ),
        location_name=CODE_LOCATION,
    )
    return RemoteJobOrigin(
        repository_origin=RemoteRepositoryOrigin(code_location_origin=location, repository_name=REPOSITORY),
        job_name=job_name,
    )


@contextmanager
def runs_of_code_location(instance: DagsterInstance, job_name: str) -> Iterator[None]:
    """Runs this `instance` creates meanwhile record the code location's origin of `job_name`.

    `execute_in_process` takes no origin: it creates its run through `instance.create_run_for_job`,
    so this instance's method (the object's, not the class's: other instances are left alone) passes
    one. `tests/ui/test_failed_run_ui.py` re-executes a CLI run through the UI's API: it notices
    when Dagster creates the run another way.
    """
    create = instance.create_run_for_job
    origin = code_location_job_origin(job_name)

    def create_with_origin(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("remote_job_origin") is None:
            kwargs["remote_job_origin"] = origin
        return create(*args, **kwargs)

    instance.create_run_for_job = create_with_origin  # type: ignore[method-assign]
    try:
        yield
    finally:
        del instance.create_run_for_job  # the class's method again
