"""`c1_staging.users` built from `orchestration/sql/users.sql` in ranges of raw rows of bounded bytes.

Why: the users' profiles are `json_object`s, and DuckDB's JSON functions take ~8 bytes per byte of
text of the rows they are given at once (up to a 2,048-row vector): 30,000 people with 10 KB names,
or 8,000 hidden PERSON members with 30 KB names, failed the step at the run's 256 MB ("Out of Memory
Error: failed to allocate data of size 16.0 MiB"). users.sql takes bounds of raw row ids, one pair
for `xmatters_raw.people` and one for `xmatters_raw.group_members` (the hidden members); a range on
`rowid` is pushed into the table scan, so each statement reads only its rows' names. The first
statement creates the table and the others insert into it. An ordinary tenant is one range of each,
one statement with no bounds: the query as it always was.
"""

from __future__ import annotations

from itertools import zip_longest
from typing import Any

import duckdb

from orchestration import sql
from orchestration.key_ranges import KeyRange, key_ranges

# Text bytes of the raw rows one statement is given: its JSON takes ~8 times as much (~64 MB of
# the run's 256 MB), beside the vectors of text themselves.
MAX_RANGE_BYTES = 8 * 2**20

_CREATE = "CREATE OR REPLACE TABLE c1_staging.users AS"
_INSERT = "INSERT INTO c1_staging.users"
# no range of this side in a statement: rowid > -1 AND rowid <= -1 holds no row
_NONE = KeyRange(-1, -1)


def _text_bytes(columns: str) -> str:
    return " + ".join(f"coalesce(strlen({column}::VARCHAR), 0)" for column in columns.split()) + " + 100"


# the text users.sql reads from a row into the user (its profile, its names and login)
_PERSON_BYTES = _text_bytes("target_name first_name last_name web_login external_key site__name properties")
_MEMBER_BYTES = _text_bytes("member__target_name member__first_name member__last_name")
_HIDDEN = (
    "(SELECT rowid AS raw_row, {bytes} AS size FROM xmatters_raw.group_members "
    "WHERE member__recipient_type = 'PERSON' AND member__id NOT IN (SELECT id FROM xmatters_raw.people))"
)


def statements(con: Any, max_bytes: int = MAX_RANGE_BYTES) -> list[tuple[str, dict[str, Any]]]:
    """The statements that build `c1_staging.users`, with their parameters (one for an ordinary tenant)."""
    people = key_ranges(con, "xmatters_raw.people", "rowid", _PERSON_BYTES, max_bytes)
    members = key_ranges(con, _HIDDEN.format(bytes=_MEMBER_BYTES), "raw_row", "size", max_bytes)
    query = sql.load("users")
    assert query.count(_CREATE) == 1, f"users.sql holds one {_CREATE}"
    built = []
    for index, (person, member) in enumerate(zip_longest(people, members)):
        if person is None or member is None:  # the other side's ranges are all taken
            person, member = (person or _NONE), (member or _NONE)
        text = query if index == 0 else query.replace(_CREATE, _INSERT)
        built.append((text, {**person.params("people_"), **member.params("members_")}))
    return built


def stage_users(con: Any, max_bytes: int = MAX_RANGE_BYTES) -> int:
    """Builds `c1_staging.users` (needs `install_macros` and the raw and `user_emails` tables);
    returns how many statements it took.

    Out of DuckDB's memory even so (one row's names alone too large), the error's first line says
    how large the widest raw rows are, so the user learns what was too big, not only that memory ran out.
    """
    built = statements(con, max_bytes)
    for text, params in built:
        try:
            con.execute(text, params)
        except duckdb.OutOfMemoryException as exc:
            raise duckdb.OutOfMemoryException(f"{str(exc).splitlines()[0]}; {_widest(con)}") from None
    return len(built)


def _widest(con: Any) -> str:
    person = con.execute(f"SELECT max({_PERSON_BYTES}) - 100 FROM xmatters_raw.people").fetchone()[0]
    member = con.execute(f"SELECT max(size) - 100 FROM {_HIDDEN.format(bytes=_MEMBER_BYTES)}").fetchone()[0]
    return (
        f"building the users' profiles from names of up to {person or 0:,} bytes a person "
        f"(xmatters_raw.people: target_name, first_name, last_name, ...) and {member or 0:,} bytes a "
        "hidden member (xmatters_raw.group_members: member__target_name, ...)"
    )
