"""The asset keys and metadata keys that one asset writes and another module reads, defined once.

The assets write these keys into their materializations; `run_outcome.py` (the CLI's summary and
warnings) and `c1_sync` (the extract's start time) read them back from the run's events.
"""

from __future__ import annotations

# asset keys, as `AssetKey.to_user_string()` spells them
SYNC_FILE_ASSET = "c1_sync"
ACCESS_CHANGES_ASSET = "c1_access_changes"
STAGED_USERS_ASSET = "c1_staging/users"
RAW_MEMBERS_ASSET = "xmatters_raw/group_members"

# every raw materialization: when its extract began (the `.c1z` sync's started_at)
EXTRACT_STARTED_AT = "extract_started_at"
# xmatters_raw/group_members: groups deleted during the sync, kept without members,
# [{group_id, name, reason, rows_sent}]
GROUPS_KEPT_WITHOUT_MEMBERS = "groups_kept_without_members"
# c1_staging/users: PERSON members whom /people did not return
HIDDEN_MEMBERS = "hidden_members"
# c1_sync: the file, its sync, and what was shortened or left out (a count and the first examples)
PATH = "path"
BYTES = "bytes"
SYNC_ID = "sync_id"
SHORTENED = "shortened"
SHORTENED_OBJECTS = "shortened_objects"
EMAILS_LEFT_OUT = "emails_left_out"
EMAILS_LEFT_OUT_EXAMPLES = "emails_left_out_examples"
# c1_access_changes: one line of what changed since the previous published sync
SUMMARY = "summary"
# c1_access_changes: the runs older than the kept syncs deleted (orchestration/run_retention.py), or
# why they were not (a warning line: the sync is published all the same)
RUN_HISTORY = "run_history"
RUN_HISTORY_WARNING = "run_history_warning"
