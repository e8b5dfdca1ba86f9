"""Typed page decoding shared by `/groups/{id}/members` (member_pages.py) and `/people` (people_pages.py).

From a raw column table (settings.py) come: a msgspec struct of the item (only the fields the raw
table keeps, so `links` and the rest are skipped while decoding), the decoder of a paging envelope
of such items, and the Arrow JSON schema that reads the items back as JSON lines (C code on both
sides, no Python step per value). A body the typed decoder refuses (not JSON, a field of an
unexpected type, an item that is not an object) makes the page decoder return None: the client then
decodes it the generic way, whose checks and error messages stay the only ones.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.json as pa_json

from pipelines.xmatters.settings import RawColumn

_PYTHON_TYPES: dict[pa.DataType, type] = {pa.string(): str, pa.bool_(): bool, pa.int64(): int}

Tree = dict[str, Any]  # {key: subtree or leaf RawColumn}, keys in the table's order


def item_tree(columns: tuple[RawColumn, ...]) -> Tree:
    """The item's objects and leaves, from the columns that come from the item (`path` set)."""
    tree: Tree = {}
    for column in columns:
        if column.path is None:
            continue
        node = tree
        for key in column.path[:-1]:
            node = node.setdefault(key, {})
        node[column.path[-1]] = column
    return tree


def item_struct(name: str, tree: Tree, module: str) -> type[msgspec.Struct]:
    """A msgspec struct of `tree`: an absent or null object is None, like the row functions read it.

    A leaf with a converter (`properties` -> JSON text) is any JSON value, converted before the
    struct is encoded (`people_pages._typed_table`). A struct of strings, booleans and other such structs
    cannot be part of a reference cycle: `gc=False` keeps many of them out of the cyclic collector.
    """
    fields = []
    any_leaf = False
    for key, node in tree.items():
        field_type: Any
        if isinstance(node, dict):
            field_type = item_struct(name + key[:1].upper() + key[1:], node, module)
        elif node.convert is not None:
            field_type, any_leaf = Any, True
        else:
            field_type = _PYTHON_TYPES[node.type]
        fields.append((key, field_type | None, None))
    return msgspec.defstruct(name, fields, gc=any_leaf, module=module)


def arrow_fields(tree: Tree) -> list[tuple[str, pa.DataType]]:
    """`tree` as the JSON reader reads the encoded structs (converted leaves have their column's type)."""
    return [
        (key, pa.struct(arrow_fields(node)) if isinstance(node, dict) else node.type)
        for key, node in tree.items()
    ]


def leaf_names(columns: tuple[RawColumn, ...]) -> list[str]:
    """The flattened JSON table's column of each item column, in the table's order."""
    return [".".join(column.path) for column in columns if column.path is not None]


class _Links(msgspec.Struct, gc=False):
    next: str | None = None


def page_decoder(item_type: type[msgspec.Struct]) -> Callable[[bytes], dict[str, Any] | None]:
    """`decode(body)`: the paging envelope (`data`, `links.next`, `total`) with typed items, or None:
    decode it generically."""
    page_type = msgspec.defstruct(
        "Page" + item_type.__name__,
        [("data", list[item_type]), ("links", _Links | None, None), ("total", int | None, None)],  # type: ignore[valid-type]
        module=item_type.__module__,
    )
    decoder = msgspec.json.Decoder(page_type)

    def decode(content: bytes) -> dict[str, Any] | None:
        try:
            page: Any = decoder.decode(content)
        # a ValidationError is a DecodeError; a deep document; bytes that are not UTF-8 (msgspec
        # raises UnicodeDecodeError for them, which escaped the client as dlt's pipe error)
        except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
            return None
        links = None if page.links is None else {"next": page.links.next}
        return {"data": page.data, "links": links, "total": page.total}

    return decode


_ENCODER = msgspec.json.Encoder()
_READ_OPTIONS = pa_json.ReadOptions(use_threads=False)


def read_items(
    items: list[Any], parse_options: pa_json.ParseOptions, *, yield_every: int | None = None
) -> pa.Table:
    """Typed items -> their JSON lines (msgspec, C) -> a table of their leaves (pyarrow's JSON reader,
    one thread, the GIL released), struct columns flattened to `a.b` leaves.

    `yield_every` items, the encoding lets other threads have the GIL: encoding a whole batch is one
    C call that holds it for ~4 ms (16,384 member items), and a thread whose answer arrived meanwhile
    waits that long before it can read it (`docs/benchmarks.md`, fifteenth round)."""
    if yield_every is None or len(items) <= yield_every:
        lines = _ENCODER.encode_lines(items)
    else:
        parts = []
        for start in range(0, len(items), yield_every):
            parts.append(_ENCODER.encode_lines(items[start : start + yield_every]))
            time.sleep(0)  # releases the GIL: a waiting thread takes it
        lines = b"".join(parts)
    try:
        parsed = pa_json.read_json(io.BytesIO(lines), read_options=_READ_OPTIONS, parse_options=parse_options)
    except pa.ArrowInvalid:  # a line longer than a read block (a huge value): read it as one block
        read_options = pa_json.ReadOptions(use_threads=False, block_size=len(lines) + 1)
        parsed = pa_json.read_json(io.BytesIO(lines), read_options=read_options, parse_options=parse_options)
    while any(pa.types.is_struct(column.type) for column in parsed.columns):
        parsed = parsed.flatten()
    return parsed


def parse_options(tree: Tree) -> pa_json.ParseOptions:
    return pa_json.ParseOptions(
        explicit_schema=pa.schema(arrow_fields(tree)), unexpected_field_behavior="error"
    )
