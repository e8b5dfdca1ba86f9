"""The test oracle of the mapping: xMatters API JSON -> writer rows, pure functions, no I/O.

Not library code: a sync maps in SQL (orchestration/sql/). This is the same mapping written again
the plain way, one module per C1 type, each docstring stating its rules in full, so that
tests/orchestration/test_transforms_mirror_mapping.py can compare the two column for column
(a deliberate second implementation) and tests/c1z/ can build writer rows from API JSON.
"""

from tests.c1z.mapping.grant import entitlement_for_group, grant_from_member_item
from tests.c1z.mapping.group import group_from_xmatters
from tests.c1z.mapping.user import HIDDEN_MEMBER_DETAILS, user_from_hidden_member, user_from_person

__all__ = [
    "HIDDEN_MEMBER_DETAILS",
    "entitlement_for_group",
    "grant_from_member_item",
    "group_from_xmatters",
    "user_from_hidden_member",
    "user_from_person",
]
