"""Typed decoding of `/groups/{id}/members` pages, and their Arrow table.

A large tenant's extract is a million member items over ten thousand calls that share one GIL.
msgspec decodes a page straight into the few fields a membership row keeps (it skips `links`, the
group's id and type, ...), and a batch of those structs becomes Arrow columns without a Python step
per item (`MembersBatcher`): the GIL time of the M extract went from ~8 s to ~5 s
(`docs/benchmarks.md`, fifth round).

The typed path never decides what is wrong with a page. A body it refuses (not JSON, a field of an
unexpected type, an item that is not an object) makes `decode_page` return None and the client
decodes the body the generic way, whose checks and error messages stay the only ones.

The structs hold only strings and other such structs, so they cannot form reference cycles:
`gc=False` keeps a million of them out of the cyclic collector (cheaper to make and to free).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.json as pa_json

from pipelines.arrow_arrays import repeated_strings
from pipelines.xmatters.paging import member_id
from pipelines.xmatters.settings import ARROW_BATCH_ROWS, GROUP_MEMBERS_SCHEMA
from pipelines.xmatters.tables import Batcher, member_row


class MemberOwner(msgspec.Struct, gc=False):
    id: str | None = None
    targetName: str | None = None  # the API's (camelCase) field names


class Member(msgspec.Struct, gc=False):
    id: str | None = None
    targetName: str | None = None
    recipientType: str | None = None
    status: str | None = None
    firstName: str | None = None
    lastName: str | None = None
    licenseType: str | None = None
    deviceType: str | None = None
    name: str | None = None
    owner: MemberOwner | None = None


class MemberGroup(msgspec.Struct, gc=False):
    targetName: str | None = None


class MemberItem(msgspec.Struct, gc=False):
    """One item of a members page: an absent or null object is None, like `member_row` reads it."""

    member: Member | None = None
    group: MemberGroup | None = None


class _Links(msgspec.Struct, gc=False):
    next: str | None = None


class _Page(msgspec.Struct):
    data: list[MemberItem]
    links: _Links | None = None
    total: int | None = None  # bounds the pages paging follows (paging.py)


_DECODER = msgspec.json.Decoder(_Page)


def decode_page(content: bytes) -> dict[str, Any] | None:
    """The paging envelope (`data`, `links.next`) with typed items; None: decode it generically."""
    try:
        page = _DECODER.decode(content)
    except (msgspec.DecodeError, RecursionError):  # a ValidationError is a DecodeError; a deep document
        return None
    links = page.links
    return {"data": page.data, "links": None if links is None else {"next": links.next}, "total": page.total}


def member_key(item: Any) -> str | None:
    """Paging key of a members item, typed or (after a generic decode) a dict."""
    if isinstance(item, MemberItem):
        member = item.member
        return member.id if member is not None and member.id else None
    return member_id(item)


class MembersBatcher:
    """Collect groups' member items and hand out Arrow tables of at least `batch_rows` rows.

    A batch's typed items become columns without a Python step per item: msgspec writes them as
    JSON lines (C, ~0.5 us an item) and pyarrow's JSON reader parses those with the GIL released,
    instead of thirteen list comprehensions and `pa.array` calls over the items holding it (~5 us
    an item) while the member calls wait for it. The reader uses one thread: the member calls and
    the server need the other core more than the parse does. Items of a page the typed decoder
    refused are dicts and take the row path of `tables.member_row`.
    """

    def __init__(self, batch_rows: int = ARROW_BATCH_ROWS) -> None:
        self.batch_rows = batch_rows
        self.group_runs: list[tuple[str, int]] = []  # (group id, number of its items), in item order
        self.items: list[MemberItem] = []
        self.dict_rows = Batcher(GROUP_MEMBERS_SCHEMA, batch_rows)

    def add(self, group_id: str, items: list[Any]) -> Iterator[pa.Table]:
        typed = [item for item in items if isinstance(item, MemberItem)]
        if len(typed) < len(items):
            dicts = (item for item in items if not isinstance(item, MemberItem))
            yield from self.dict_rows.add(member_row(group_id, item) for item in dicts)
        if typed:
            self.group_runs.append((group_id, len(typed)))
            self.items.extend(typed)
        if len(self.items) >= self.batch_rows:
            yield self._typed_table()

    def flush(self) -> Iterator[pa.Table]:
        if self.items:
            yield self._typed_table()
        yield from self.dict_rows.flush()

    def _typed_table(self) -> pa.Table:
        """GROUP_MEMBERS_SCHEMA columns of the batch's typed items (a null object gives nulls below it)."""
        group_runs, items = self.group_runs, self.items
        self.group_runs, self.items = [], []
        lines = _ENCODER.encode_lines(items)
        try:
            parsed = pa_json.read_json(
                io.BytesIO(lines), read_options=_READ_OPTIONS, parse_options=_PARSE_OPTIONS
            )
        except pa.ArrowInvalid:  # a line longer than a read block (a huge value): read it as one block
            read_options = pa_json.ReadOptions(use_threads=False, block_size=len(lines) + 1)
            parsed = pa_json.read_json(
                io.BytesIO(lines), read_options=read_options, parse_options=_PARSE_OPTIONS
            )
        leaves = parsed.flatten().flatten()
        columns = [repeated_strings(group_runs), *(leaves.column(name) for name in _LEAF_NAMES)]
        return pa.Table.from_arrays(columns, schema=GROUP_MEMBERS_SCHEMA)


_STRING = pa.string()
_ENCODER = msgspec.json.Encoder()
# MemberItem as pyarrow's JSON reader reads it; flattened, its leaves are GROUP_MEMBERS_SCHEMA's
# columns after `group_id`, in this order.
_ITEM_SCHEMA = pa.schema(
    [
        ("group", pa.struct([("targetName", _STRING)])),
        (
            "member",
            pa.struct(
                [
                    ("id", _STRING),
                    ("targetName", _STRING),
                    ("recipientType", _STRING),
                    ("status", _STRING),
                    ("firstName", _STRING),
                    ("lastName", _STRING),
                    ("licenseType", _STRING),
                    ("deviceType", _STRING),
                    ("name", _STRING),
                    ("owner", pa.struct([("id", _STRING), ("targetName", _STRING)])),
                ]
            ),
        ),
    ]
)
_READ_OPTIONS = pa_json.ReadOptions(use_threads=False)
_PARSE_OPTIONS = pa_json.ParseOptions(explicit_schema=_ITEM_SCHEMA, unexpected_field_behavior="error")
_LEAF_NAMES = [
    "group.targetName",
    "member.id",
    "member.targetName",
    "member.recipientType",
    "member.status",
    "member.firstName",
    "member.lastName",
    "member.licenseType",
    "member.deviceType",
    "member.name",
    "member.owner.id",
    "member.owner.targetName",
]
