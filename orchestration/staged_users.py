"""`c1_staging.users` built from `orchestration/sql/users.sql` in ranges of raw rows of bounded bytes.

Why: the users' profiles are `json_object`s, and DuckDB's JSON functions take ~8 bytes per byte of
text of the rows they are given at once (up to a 2,048-row vector): 30,000 people with 10 KB names,
or 8,000 hidden PERSON members with 30 KB names, failed the step at the run's 256 MB ("Out of Memory
Error: failed to allocate data of size 16.0 MiB"). users.sql takes bounds of raw row ids, one pair
for `xmatters_raw.people` and one for `xmatters_raw.group_members` (the hidden members), and
`orchestration/staged_ranges.py` runs it with the next range of each.
"""

from __future__ import annotations

from typing import Any

from orchestration.staged_ranges import MAX_RANGE_BYTES, RangedSource, build_in_ranges, text_bytes

# the text users.sql reads from a row into the user (its profile, its names and login)
_PERSON_BYTES = text_bytes("target_name first_name last_name web_login external_key site__name properties")
_MEMBER_BYTES = text_bytes("member__target_name member__first_name member__last_name")
_HIDDEN = (
    f"(SELECT rowid AS raw_row, {_MEMBER_BYTES} AS size FROM xmatters_raw.group_members "
    "WHERE member__recipient_type = 'PERSON' AND member__id NOT IN (SELECT id FROM xmatters_raw.people))"
)
_SOURCES = (
    RangedSource("xmatters_raw.people", "rowid", _PERSON_BYTES, "people_"),
    RangedSource(_HIDDEN, "raw_row", "size", "members_"),
)


def stage_users(con: Any, max_bytes: int = MAX_RANGE_BYTES) -> int:
    """Builds `c1_staging.users` (needs `install_macros` and the raw and `user_emails` tables);
    returns how many statements it took (one for an ordinary tenant)."""
    return build_in_ranges(con, "users", _SOURCES, _widest, max_bytes)


def _widest(con: Any) -> str:
    person = con.execute(f"SELECT max({_PERSON_BYTES}) - 100 FROM xmatters_raw.people").fetchone()[0]
    member = con.execute(f"SELECT max(size) - 100 FROM {_HIDDEN}").fetchone()[0]
    return (
        f"building the users' profiles from names of up to {person or 0:,} bytes a person "
        f"(xmatters_raw.people: target_name, first_name, last_name, ...) and {member or 0:,} bytes a "
        "hidden member (xmatters_raw.group_members: member__target_name, ...)"
    )
