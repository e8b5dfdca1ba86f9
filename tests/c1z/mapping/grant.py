"""Group memberships -> the `member` entitlement and its grants.

Rules (the SQL transforms of `xmatters_raw.group_members` mirror them):
- Every group has one entitlement `group:<group id>:member`, display name
  "<group display name> Group Member", description "Member of the <group display name> group in
  xMatters" (as C1's Opsgenie and PagerDuty connectors describe theirs), grantable to `user`. Both
  from the group's full name; the `.c1z` gets them shortened to C1's limits.
- A `/groups/{id}/members` item whose `member.recipientType` is PERSON -> grant
  `group:<group.id>:member:user:<member.id>`.
- GROUP members (nested groups) -> no grant, as the C1 xMatters connector does; only with
  `expand_nested_groups=True` -> grant `group:<group.id>:member:group:<member.id>` marked expandable
  (GrantExpandable naming `group:<member.id>:member`, so C1 expands it).
- DEVICE and DYNAMIC_TEAM members (and any other type) -> no grant.
The group id is `item.group.id` (the members endpoint always returns it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipelines.c1z.ids import member_description, member_display_name
from pipelines.c1z.rows import EntitlementRow, GrantRow, GroupRow


def entitlement_for_group(group: GroupRow) -> EntitlementRow:
    """The group's single `member` entitlement."""
    return EntitlementRow(
        group_id=group.group_id,
        display_name=member_display_name(group.display_name),
        description=member_description(group.display_name),
    )


def grant_from_member_item(item: Mapping[str, Any], *, expand_nested_groups: bool = False) -> GrantRow | None:
    """A grant for one members item, or None when that member type is not synced as a grant."""
    group_id = str(item["group"]["id"])
    member = item["member"]
    member_type = member.get("recipientType")
    if member_type == "PERSON":
        return GrantRow(group_id=group_id, principal_type="user", principal_id=str(member["id"]))
    if member_type == "GROUP" and expand_nested_groups:
        child_id = str(member["id"])
        return GrantRow(group_id=group_id, principal_type="group", principal_id=child_id, expandable=True)
    return None
