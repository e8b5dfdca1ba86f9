"""Every command keeps to its data directory: nothing lands in the working directory it runs from.

Each command runs as a user runs it, a process started in an empty directory, with its home given
(`BATON_XMATTERS_HOME`, `demo --home`); afterwards that directory is still empty. Loading the code
location (what `dagster dev` and `dagster asset materialize -m orchestration.definitions` do)
wrote dlt's pipeline state, `./var/dlt/xmatters/state.json`, though nothing had run: the
definition-time pipeline lived in the real dlt directory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import ISOLATED_ENV_PREFIXES
from tests.service.conftest import credentials, fake_c1, pki, service_env  # noqa: F401 - fixtures

BATON_XMATTERS = Path(sys.executable).with_name("baton-xmatters")
TIMEOUT_S = 240
# A second or two unloaded; once took over 30 s on a loaded 2-core machine (a CI run, `make test`
# and a sync at once): the bound only has to catch a service that never stops.
STOP_WITHIN_S = 120


def user_env(**settings: str) -> dict[str, str]:
    """This environment without BATON_*, dlt or Dagster settings, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(ISOLATED_ENV_PREFIXES)}
    return {**env, **settings}


def run_in(cwd: Path, argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)


def empty_dir(path: Path) -> Path:
    path.mkdir()
    return path


def test_the_commands_write_only_under_their_home(simulator, tmp_path: Path):
    cwd = empty_dir(tmp_path / "cwd")
    home, demo_home, dlt_home = tmp_path / "home", tmp_path / "demo", tmp_path / "dlt-route"
    connection = {
        "BATON_BASE_URL": simulator.base_url,
        "BATON_USERNAME": simulator.username,
        "BATON_PASSWORD": simulator.password,
    }
    env = user_env(BATON_XMATTERS_HOME=str(home), **connection)
    cli = str(BATON_XMATTERS)
    runs = [
        ([cli, "demo", "--home", str(demo_home), "--people", "30", "--groups", "3"], env),
        ([cli, "-f", str(home / "sync.c1z"), "--log-level", "warning"], env),
        ([cli, "sql", "SELECT count(*) FROM c1.users"], env),
        ([cli, "diff"], env),
        ([cli, "inspect", "-f", str(home / "sync.c1z"), "stats"], env),
        (
            [sys.executable, "-m", "pipelines.xmatters_pipeline"],
            {**env, "BATON_XMATTERS_HOME": str(dlt_home)},
        ),
    ]
    for argv, run_env in runs:
        done = run_in(cwd, argv, run_env)
        assert done.returncode == 0, (argv, done.stderr[-2000:])
        assert list(cwd.iterdir()) == [], argv
    for each in (home, demo_home, dlt_home):  # where dlt's state went instead
        assert (each / "dlt" / "xmatters" / "state.json").is_file(), each


def test_loading_the_code_location_writes_nothing(tmp_path: Path):
    """Not in the working directory (the default home, `./var`) nor in a home given: no run yet."""
    cwd, home = empty_dir(tmp_path / "cwd"), tmp_path / "home"
    load = [sys.executable, "-c", "from orchestration.definitions import defs; print(len(defs.assets))"]
    for env in (user_env(), user_env(BATON_XMATTERS_HOME=str(home))):
        done = run_in(cwd, load, env)
        assert done.returncode == 0, done.stderr[-2000:]
        assert list(cwd.iterdir()) == []
    assert not home.exists()


def stop(service: subprocess.Popen[bytes], log: Path) -> int:
    """SIGTERM, then the service's exit status once it has exited; killed if it has not within
    `STOP_WITHIN_S`, and the test fails saying so (no service outlives its test)."""
    service.send_signal(signal.SIGTERM)
    try:
        return service.wait(timeout=STOP_WITHIN_S)
    except subprocess.TimeoutExpired:
        service.kill()
        service.wait()
        output = log.read_text(errors="replace")
        raise AssertionError(f"still running {STOP_WITHIN_S} s after SIGTERM (killed):\n{output}") from None


def test_service_mode_writes_only_under_its_home(fake_c1, simulator, pki, tmp_path: Path):  # noqa: F811
    cwd, home = empty_dir(tmp_path / "cwd"), tmp_path / "home"
    task = fake_c1.add_task()
    log = tmp_path / "service.log"
    with open(log, "wb") as handle:
        service = subprocess.Popen(
            [str(BATON_XMATTERS)],
            cwd=cwd,
            env=service_env(fake_c1, simulator, home, pki),
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    try:
        finished = fake_c1.state.wait_for(lambda s: any(f.task_id == task for f in s.finished), TIMEOUT_S)
    finally:
        code = stop(service, log)
    output = log.read_text(errors="replace")
    assert finished, f"no FinishTask of task {task} reached C1 within {TIMEOUT_S} s:\n{output}"
    assert code == 0, output
    assert fake_c1.finished_task(task).WhichOneof("final_state") == "success"
    assert list(cwd.iterdir()) == []
    assert (home / "dlt" / "xmatters" / "state.json").is_file()
