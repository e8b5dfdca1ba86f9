"""What a sync produces and how strictly it guards publishing: the table of those settings.

One declaration per setting (pipelines/xmatters/settings_table.py): the CLI's flags and the
`SyncSettings` resource's config (orchestration/resources.py) both derive from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestration.paths import DEFAULT_SYNC_FILE
from pipelines.xmatters.settings_table import at_least, between, setting

OUTPUT = "output"


@dataclass(frozen=True)
class SyncOptions:
    # A table: one declaration per setting, alike in shape by design (`duplicates` pairs them).
    sync_file: str = setting(
        "the .c1z to write (baton's -f)",
        default=DEFAULT_SYNC_FILE,
        group=OUTPUT,
        flag="--file",
        short="-f",
        env="BATON_FILE",
    )
    max_drop_ratio: float = setting(
        "block publishing when users or grants drop by more than this share since the last published sync "
        "(a permission change on the API account looks exactly like that); 1 disables",
        default=0.5,
        group=OUTPUT,
        flag="--max-drop",
        check=between(0, 1),
    )
    new_source: bool = setting(
        "allow a base URL (another tenant) other than the warehouse's last sync (otherwise refused; another "
        "account of the same tenant needs no flag); its change history and the sudden-drop check start over",
        default=False,
        group=OUTPUT,
        flag="--new-source",
    )
    expand_nested_groups: bool = setting(
        "nested groups as expandable grants (C1 expands them)",
        default=False,
        group=OUTPUT,
        flag="--expand-nested-groups",
    )
    sync_emails: bool = setting(
        "add people's EMAIL devices as user emails", default=False, group=OUTPUT, flag="--sync-emails"
    )
    history_retention: int = setting(
        "published syncs whose change history (warehouse) and Dagster runs are kept; older runs are "
        "deleted after each sync",
        default=30,
        group=OUTPUT,
        flag="--history-retention",
        check=at_least(1),
    )
