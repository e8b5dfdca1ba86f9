"""Turning `--expand-nested-groups` off drops every grant to a nested group: legitimately.

The drop check blocks that as it blocks any drop, but its message used to read like a permission
change on the API account ("grants 52 -> 17: 67% of grants dropped"), with nothing saying the
setting changed. Each published sync now records the setting (`c1.sync_runs.expand_nested_groups`)
and the check's message says when it differs from the last published sync's.
"""

from __future__ import annotations

import dataclasses

import dagster as dg
import pytest

from orchestration.checks.drop_checks import drop_summary
from orchestration.cli import main
from orchestration.definitions import build_definitions
from simulator import XmattersSimulator
from tests.conftest import SMALL_ORG_SPEC, cached_org
from tests.orchestration.test_sync_cli import published, sync_args

# most of each group's members are other groups: their grants are most of the grants when expanded
NESTED_SPEC = dataclasses.replace(
    SMALL_ORG_SPEC,
    large_groups=0,
    hidden_people=0,
    nested_group_share=0.8,
    device_member_share=0.0,
    dynamic_team_share=0.0,
)


def test_turning_expansion_off_names_the_setting_and_the_way_to_accept_the_drop(data_home, tmp_path, capsys):
    sync_file = tmp_path / "sync.c1z"
    with XmattersSimulator(cached_org(NESTED_SPEC)) as simulator:
        assert main([*sync_args(simulator, sync_file), "--expand-nested-groups"]) == 0
        before = sync_file.read_bytes()
        grants = published(
            data_home, "SELECT count(*), count(*) FILTER (principal_type = 'user') FROM c1.grants"
        )
        ((expanded, to_users),) = grants
        assert to_users < expanded / 2  # the drop is over the default limit
        assert published(data_home, "SELECT expand_nested_groups FROM c1.sync_runs") == [(True,)]
        capsys.readouterr()

        assert main(sync_args(simulator, sync_file)) == 1
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert f"grants {expanded} -> {to_users}: " in err and "limit 50% (--max-drop)" in err
        assert (
            "; the last published sync was made with --expand-nested-groups and this one without "
            "(grants to nested groups are not made now): if that is meant, accept the drop once with "
            "--max-drop 1" in err
        )
        assert "nothing was published" in err
        assert sync_file.read_bytes() == before

        # The same drop in a run of the code location (the UI's) names the Launchpad's fields
        cli_said = err.split(" failed: ", 1)[1].rsplit("; nothing was published", 1)[0]
        config = "resources.sync_settings.config."
        assert _drop_check_said_in_a_ui_run(simulator, sync_file, data_home) == (
            cli_said.replace("--max-drop 1", f"{config}max_drop_ratio: 1")
            .replace("(--max-drop)", f"({config}max_drop_ratio)")
            .replace("--expand-nested-groups", f"{config}expand_nested_groups")
        )
        assert sync_file.read_bytes() == before

        assert main([*sync_args(simulator, sync_file), "--max-drop", "1"]) == 0
    assert published(data_home, "SELECT expand_nested_groups FROM c1.sync_runs ORDER BY published_at") == [
        (True,),
        (False,),
    ]


def test_the_message_names_a_changed_setting_only_when_something_dropped():
    summary = drop_summary("grants", 52, 17, 35 / 52, 0.5, expansion_was=True, expansion_is=False)
    assert summary.endswith(
        "; the last published sync was made with --expand-nested-groups and this one without "
        "(grants to nested groups are not made now): if that is meant, accept the drop once "
        "with --max-drop 1"
    )
    turned_on = drop_summary("grants", 52, 17, 35 / 52, 0.5, expansion_was=False, expansion_is=True)
    assert turned_on.endswith(
        "; the last published sync was made without --expand-nested-groups and this one with"
    )
    # unknown (a sync of an earlier version recorded no setting) or unchanged: as before
    for was in (None, False):
        assert drop_summary("grants", 52, 17, 35 / 52, 0.5, expansion_was=was, expansion_is=False) == (
            "grants 52 -> 17: 67% of grants dropped; limit 50% (--max-drop)"
        )
    grew = drop_summary("grants", 17, 52, 0.0, 0.5, expansion_was=False, expansion_is=True)
    assert grew == "grants 17 -> 52: none dropped; limit 50% (--max-drop)"


def _drop_check_said_in_a_ui_run(simulator: XmattersSimulator, sync_file, data_home) -> str:
    """The grants drop check's description in a run of the code location's job, as the UI launches
    it: settings from the environment and the resources' config, no tag of the CLI's."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in (
            ("BATON_BASE_URL", simulator.base_url),
            ("BATON_USERNAME", simulator.username),
            ("BATON_PASSWORD", simulator.password),
            ("BATON_FILE", str(sync_file)),
        ):
            env.setenv(name, value)
        job = build_definitions().resolve_job_def("xmatters_sync")
        with dg.DagsterInstance.from_config(str(data_home / "dagster")) as instance:
            result = job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    [evaluation] = [
        event.event_specific_data
        for event in result.all_events
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        and event.event_specific_data.check_name == "grants_sudden_drop"
    ]
    assert not evaluation.passed
    return evaluation.description
