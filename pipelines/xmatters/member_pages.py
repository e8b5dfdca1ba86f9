"""Typed decoding of `/groups/{id}/members` pages, and their Arrow table.

A large tenant's extract is a million member items over ten thousand calls that share one GIL.
msgspec decodes a page straight into the few fields a membership row keeps (it skips `links`, the
group's id and type, ...), and a batch of those structs becomes Arrow columns without a Python step
per item (`MembersBatcher`): the GIL time of the M extract went from ~8 s to ~5 s
(`docs/benchmarks.md`, fifth round).

The typed path never decides what is wrong with a page. A body it refuses (not JSON, a field of an
unexpected type, an item that is not an object) makes `decode_page` return None and the client
decodes the body the generic way, whose checks and error messages stay the only ones.

The structs, the JSON reader's schema and the leaf columns are derived from the raw column table
`settings.GROUP_MEMBERS_COLUMNS`, like `tables.member_row`: a new member column is one line there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from pipelines.arrow_arrays import repeated_strings
from pipelines.xmatters import typed_items
from pipelines.xmatters.item_checks import FieldCheck
from pipelines.xmatters.paging import item_id
from pipelines.xmatters.settings import (
    ARROW_BATCH_BYTES,
    ARROW_BATCH_ROWS,
    GROUP_MEMBERS_COLUMNS,
    GROUP_MEMBERS_SCHEMA,
)
from pipelines.xmatters.tables import Batcher, member_row, sized_slices

# The typed member item, derived from the raw column table: {"group": {"targetName": string},
# "member": {"id": string, ..., "owner": {"id": string, "targetName": string}}}.
_ITEM_TREE = typed_items.item_tree(GROUP_MEMBERS_COLUMNS)
MemberItem = typed_items.item_struct("MemberItem", _ITEM_TREE, __name__)  # .member.id, .member.owner.id, ...

decode_page = typed_items.page_decoder(MemberItem)
"""The paging envelope (`data`, `links.next`, `total`) with typed items; None: decode it generically."""


def member_key(item: Any) -> str | None:
    """Paging key of a members item, typed or (after a generic decode) a dict, whose fields' types
    are checked here, where paging knows the page (item_checks.py)."""
    if isinstance(item, MemberItem):
        member = item.member
        return member.id if member is not None and member.id else None
    if not isinstance(item, dict):
        return None
    value = item_id(item.get("member"), "an item", "member.id")  # a generically decoded item
    if value is not None:
        _check_member_fields(member_row(None, item))
    return value


_check_member_fields = FieldCheck(GROUP_MEMBERS_COLUMNS, "an item").check


class MembersBatcher:
    """Collect groups' member items and hand out Arrow tables of at least `batch_rows` rows, or
    of items from `batch_bytes` bytes of pages (`add`'s `size`), whichever comes first.

    A batch's typed items become columns without a Python step per item: msgspec writes them as
    JSON lines (C, ~0.5 us an item) and pyarrow's JSON reader parses those with the GIL released,
    instead of a list comprehension and a `pa.array` call per column over the items holding it (~5 us
    an item) while the member calls wait for it. The reader uses one thread: the member calls and
    the server need the other core more than the parse does. Items of a page the typed decoder
    refused are dicts and take the row path of `tables.member_row`.
    """

    def __init__(self, batch_rows: int = ARROW_BATCH_ROWS, batch_bytes: int = ARROW_BATCH_BYTES) -> None:
        self.batch_rows = batch_rows
        self.batch_bytes = batch_bytes
        self.group_runs: list[tuple[str, int]] = []  # (group id, number of its items), in item order
        self.items: list[MemberItem] = []
        self.size = 0  # bytes of the pages the batch's typed items came from
        self.dict_rows = Batcher(GROUP_MEMBERS_SCHEMA, batch_rows, batch_bytes)

    def add(self, group_id: str, items: list[Any], size: int = 0) -> Iterator[pa.Table]:
        """`size`: the bytes of the pages the items came from (`paging.Page.size`)."""
        for part, part_size in sized_slices(items, size, self.batch_bytes):
            yield from self._add(group_id, part, part_size)

    def _add(self, group_id: str, items: list[Any], size: int) -> Iterator[pa.Table]:
        typed = [item for item in items if isinstance(item, MemberItem)]
        if len(typed) < len(items):
            dicts = (item for item in items if not isinstance(item, MemberItem))
            dict_size = size * (len(items) - len(typed)) // len(items)
            yield from self.dict_rows.add((member_row(group_id, item) for item in dicts), dict_size)
            size -= dict_size
        if typed:
            self.group_runs.append((group_id, len(typed)))
            self.items.extend(typed)
            self.size += size
        if len(self.items) >= self.batch_rows or self.size >= self.batch_bytes:
            yield self._typed_table()

    def flush(self) -> Iterator[pa.Table]:
        if self.items:
            yield self._typed_table()
        yield from self.dict_rows.flush()

    def _typed_table(self) -> pa.Table:
        """GROUP_MEMBERS_SCHEMA columns of the batch's typed items (a null object gives nulls below it)."""
        group_runs, items = self.group_runs, self.items
        self.group_runs, self.items, self.size = [], [], 0
        leaves = typed_items.read_items(items, _PARSE_OPTIONS, yield_every=ENCODE_YIELD_ITEMS)
        columns = [repeated_strings(group_runs), *(leaves.column(name) for name in _LEAF_NAMES)]
        return pa.Table.from_arrays(columns, schema=GROUP_MEMBERS_SCHEMA)


# Items encoded between two chances for the member-call threads to take the GIL (~0.25 ms of
# encoding): the batch is built while the calls go on (`typed_items.read_items`).
ENCODE_YIELD_ITEMS = 1024

# MemberItem as pyarrow's JSON reader reads it; flattened, its leaves are GROUP_MEMBERS_SCHEMA's
# columns after `group_id`, in this order.
_PARSE_OPTIONS = typed_items.parse_options(_ITEM_TREE)
_LEAF_NAMES = typed_items.leaf_names(GROUP_MEMBERS_COLUMNS)
