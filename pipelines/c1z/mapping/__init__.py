"""xMatters API JSON -> writer rows: one module per C1 type, pure functions, no I/O.

The warehouse's SQL transforms mirror these rules column for column (a test compares the two), so
each module's docstring states its rules in full.
"""

from pipelines.c1z.mapping.grant import entitlement_for_group, grant_from_member_item
from pipelines.c1z.mapping.group import group_from_xmatters
from pipelines.c1z.mapping.user import HIDDEN_MEMBER_DETAILS, user_from_hidden_member, user_from_person

__all__ = [
    "HIDDEN_MEMBER_DETAILS",
    "entitlement_for_group",
    "grant_from_member_item",
    "group_from_xmatters",
    "user_from_hidden_member",
    "user_from_person",
]
