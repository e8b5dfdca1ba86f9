"""Listing keys that also check the field types of a generically decoded item, naming its page.

Items are batched into Arrow tables after paging, rows of many pages together, so a value of the
wrong type found there (`tables.to_table`: a person's `status` an object) could name its column but
not the page it came on: the sync ended with `unexpected value type for column status: dict`. The
key of each listing sees every item while its page's URL is known (paging.py), so for an item that
is a dict (a page the typed decoder refused, or a listing without one: `/groups`, `/devices`) it
also builds the item's row with the listing's row function and checks each value against its
column's Arrow type; `BadItem` becomes `the status of a person in <url> is an object, not a
string`. A typed item (msgspec already checked its types) costs nothing more; a dict costs one more
row and its check (~3 us), for pages that are rare (`/people`, members) or small (`/groups`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa

from pipelines.xmatters.paging import BadItem, ItemKey, item_id, json_kind
from pipelines.xmatters.settings import EMAIL_DEVICES_COLUMNS, GROUPS_COLUMNS, RawColumn
from pipelines.xmatters.tables import Row, email_device_row, group_row

# The Python type of a decoded JSON value each column type holds, and its name in JSON's words.
# Decoded JSON has exact types (a bool is no int here). `tables._fits` answers the same question by
# pyarrow type comparisons: ~20 us an item, ten times the row itself.
_ACCEPTS: dict[pa.DataType, tuple[type, str]] = {
    pa.string(): (str, "a string"),
    pa.bool_(): (bool, "a boolean"),
    pa.int64(): (int, "a number"),
}


class FieldCheck:
    """`check(row)`: `BadItem` for the first value of an item's row (`columns` its raw table) that
    its column's type cannot hold, named by its path in the item as the API spells it."""

    def __init__(self, columns: tuple[RawColumn, ...], noun: str) -> None:
        self.noun = noun
        self.checked = [
            (index, ".".join(column.path), *_ACCEPTS[column.type])
            for index, column in enumerate(columns)
            if column.path is not None
        ]

    def check(self, row: Row) -> None:
        for index, field, accepted, expected in self.checked:
            value = row[index]
            if value is None or type(value) is accepted:  # decoded JSON: exact types, a bool is no int
                continue
            raise BadItem(f"the {field} of {self.noun}", f"is {json_kind(value)}, not {expected}")


def checked_key(row: Callable[[Any], Row], columns: tuple[RawColumn, ...], noun: str) -> ItemKey:
    """The key of a listing whose items are dicts: `item_id`, and `FieldCheck` on the item's row."""
    check = FieldCheck(columns, noun).check

    def key(item: Any) -> str | None:
        value = item_id(item, noun)
        if value is not None:
            check(row(item))
        return value

    return key


group_key = checked_key(group_row, GROUPS_COLUMNS, "a group")
email_device_key = checked_key(email_device_row, EMAIL_DEVICES_COLUMNS, "a device")
