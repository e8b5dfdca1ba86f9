"""The rows the `.c1z` writer accepts: one plain record per C1 object.

They are the contract between the warehouse (the `c1` tables, one column per field here) and the
format layer, so the writer never needs to know about xMatters, dlt or DuckDB. Plain NamedTuples
keep a million grants cheap to build.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Literal, NamedTuple

import pyarrow as pa

UserStatus = Literal["ENABLED", "DISABLED", "UNSPECIFIED"]


class UserRow(NamedTuple):
    """One C1 `user` resource (an xMatters person, or a PERSON member `/people` did not return)."""

    user_id: str
    display_name: str
    status: UserStatus
    status_details: str | None = None
    login: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    profile: dict[str, Any] | None = None  # None values are dropped when encoded
    emails: tuple[tuple[str, bool], ...] = ()  # (address, is_primary)
    # a datetime (naive = UTC), or microseconds since the Unix epoch as the warehouse reads them
    created_at: datetime | int | None = None
    last_login: datetime | int | None = None
    login_aliases: Sequence[str] = ()  # other logins of the user (UserTrait.login_aliases)
    employee_ids: Sequence[str] = ()  # UserTrait.employee_ids


class GroupRow(NamedTuple):
    """One C1 `group` resource (an xMatters group)."""

    group_id: str
    display_name: str
    description: str | None = None
    profile: dict[str, Any] | None = None


class EntitlementRow(NamedTuple):
    """The `member` entitlement of one group: id `group:<group_id>:member`."""

    group_id: str
    display_name: str  # "<group name> Group Member"
    description: str | None = None
    grantable_to: tuple[str, ...] = ("user",)


class GrantColumns(NamedTuple):
    """Grants as Arrow record batches with GrantRow's columns (`write_c1z` collects them as columns)."""

    batches: Iterable[pa.RecordBatch]


class GrantRow(NamedTuple):
    """One grant of a group's `member` entitlement to a principal.

    `expandable` marks a nested-group grant (principal_type 'group'): it carries a GrantExpandable
    annotation naming `group:<principal_id>:member`, so C1 expands it.
    """

    group_id: str
    principal_type: str  # "user" or "group"
    principal_id: str
    expandable: bool = False
