"""Group-member pages as Arrow tables, parsed in C++ with the GIL released when the page allows.

Why: a large tenant has a million memberships behind ten thousand member calls, and the extract
was CPU-bound under the GIL: orjson built dicts for every item (mostly fields the rows never use,
such as each item's `links`), then `member_row` picked the fields and `pa.array` turned them
into columns. pyarrow's JSON reader reads only the raw table's fields, straight into columns, and
releases the GIL while it parses, so the member threads parse in parallel with each other and
with dlt's thread (see docs/benchmarks.md).

The fast path takes only pages it reproduces exactly: one JSON object whose items have the
expected shapes and types and a non-empty member id. For anything else (a number where a string
belongs, a missing id, a repeated key, an invalid surrogate, not JSON at all) `parse_member_page`
returns None and the page takes the Python path (`JsonMembersPage`), whose checks, retries and
error messages are those of every other list endpoint.
"""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pyarrow.json as pajson

from pipelines.xmatters.paging import JsonPage, member_id
from pipelines.xmatters.settings import GROUP_MEMBERS_SCHEMA
from pipelines.xmatters.tables import member_row, to_table

_S = pa.string()
# The JSON fields behind GROUP_MEMBERS_SCHEMA's columns, in its order (after group_id and the
# group's target name).
_MEMBER_FIELDS = ("id", "targetName", "recipientType", "status", "firstName", "lastName")
_MEMBER_FIELDS += ("licenseType", "deviceType", "name")
_OWNER_FIELDS = ("id", "targetName")
_OWNER = pa.struct([(f, _S) for f in _OWNER_FIELDS])
_MEMBER = pa.struct([*((f, _S) for f in _MEMBER_FIELDS), ("owner", _OWNER)])
_ITEM = pa.struct([("group", pa.struct([("targetName", _S)])), ("member", _MEMBER)])
_PAGE_SCHEMA = pa.schema([("data", pa.list_(_ITEM)), ("links", pa.struct([("next", _S)]))])
_PARSE_OPTIONS = pajson.ParseOptions(
    explicit_schema=_PAGE_SCHEMA,
    unexpected_field_behavior="ignore",  # links, the group's id, and whatever else xMatters adds
    newlines_in_values=True,  # a pretty-printed body is still one object
)


class MembersPage:
    """A member page already in `xmatters_raw.group_members` columns."""

    def __init__(self, table: pa.Table, ids: list[str], next_link: str | None) -> None:
        self.table = table
        self.ids = ids
        self.next_link = next_link

    def keys(self) -> list[str]:
        return self.ids

    def take(self, positions: list[int]) -> pa.Table:
        table = self.table
        return table if len(positions) == table.num_rows else table.take(positions)


class JsonMembersPage(JsonPage):
    """A member page decoded into dicts: rows are built only for the items paging keeps."""

    def __init__(self, body: Any, url: str, group_id: str) -> None:
        super().__init__(body, url, member_id)
        self.group_id = group_id

    def take(self, positions: list[int]) -> pa.Table:  # type: ignore[override]
        rows = [member_row(self.group_id, item) for item in super().take(positions)]
        return to_table(rows, GROUP_MEMBERS_SCHEMA)


def parse_member_page(body: bytes, group_id: str) -> MembersPage | None:
    """The page as Arrow columns, or None when only the Python path can judge it."""
    try:
        parsed = pajson.read_json(
            io.BytesIO(body),
            read_options=pajson.ReadOptions(use_threads=False, block_size=len(body) + 1),
            parse_options=_PARSE_OPTIONS,
        )
        parsed.validate(full=True)  # the reader passes invalid UTF-8 through; the Python path refuses it
    except (pa.ArrowException, OSError):
        return None
    if parsed.num_rows != 1:  # empty, or several JSON documents in one body
        return None
    data = parsed.column("data").combine_chunks()
    links = parsed.column("links").combine_chunks()
    if data.null_count:  # no `data` list: the Python path names the problem
        return None
    group, member = data.flatten().flatten()  # flatten() keeps a null parent's children null
    *member_columns, owner = member.flatten()
    ids = member_columns[0].to_pylist()
    if None in ids or "" in ids:
        return None
    table = pa.Table.from_arrays(
        [pa.repeat(group_id, len(ids)), group.flatten()[0], *member_columns, *owner.flatten()],
        schema=GROUP_MEMBERS_SCHEMA,
    )
    link = links[0]
    return MembersPage(table, ids, (link["next"].as_py() if link.is_valid else None) or None)
