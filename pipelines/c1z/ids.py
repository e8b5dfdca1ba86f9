"""The ids and names C1 sees for groups' memberships, defined once as templates.

The `.c1z` writer calls the functions below; the staging SQL calls DuckDB macros generated from the
same templates (`orchestration/c1_limits_sql.py`: `c1_entitlement_id(group_id)`, `c1_grant_id(...)`,
`c1_member_display_name(name)`, `c1_member_description(name)`, `c1_member_slug()`), so the ids in
the warehouse and in the `.c1z` cannot drift apart. Names in braces are the macros' parameters.
"""

from __future__ import annotations

import re

MEMBER_SLUG = "member"  # the one entitlement of every group (purpose ASSIGNMENT)
ENTITLEMENT_ID = "group:{group_id}:" + MEMBER_SLUG
GRANT_ID = ENTITLEMENT_ID + ":{principal_type}:{principal_id}"
# as C1's Opsgenie and PagerDuty connectors name and describe theirs; from the group's full name
MEMBER_DISPLAY_NAME = "{group_name} Group Member"
MEMBER_DESCRIPTION = "Member of the {group_name} group in xMatters"


def _positional(template: str) -> str:
    """The template with `{}` fields: `str.format` with positional arguments is ~3x faster than
    with keywords, and `grant_id` runs once per grant (a million in a large sync)."""
    return re.sub(r"\{\w+\}", "{}", template)


_entitlement_id = _positional(ENTITLEMENT_ID).format
_grant_id = _positional(GRANT_ID).format
_member_display_name = _positional(MEMBER_DISPLAY_NAME).format
_member_description = _positional(MEMBER_DESCRIPTION).format


def entitlement_id(group_id: str) -> str:
    return _entitlement_id(group_id)


def grant_id(group_id: str, principal_type: str, principal_id: str) -> str:
    return _grant_id(group_id, principal_type, principal_id)


def member_display_name(group_name: str) -> str:
    return _member_display_name(group_name)


def member_description(group_name: str) -> str:
    return _member_description(group_name)
