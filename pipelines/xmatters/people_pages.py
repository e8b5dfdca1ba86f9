"""Typed decoding of `/people` pages, and their Arrow tables.

The generic path made each person a dict of every field sent (links, site links, ...), then a row
tuple, then a dict of the row, then a JSON line (`tables.to_table_json`): ~0.3 CPU-s of the sync
process's single busy core for 20,000 people (scale M), on the critical path of the raw step.
Typed, a page decodes straight into the fields the raw table keeps, and a batch becomes its table
through msgspec's JSON lines and pyarrow's JSON reader, like member pages (member_pages.py); only
`properties` (custom fields) takes a Python step, `tables.json_text`, so its text stays the same.

A page the typed decoder refuses is decoded generically and its people take the row path
(`tables.person_row`, `to_table_json`), whose checks and error messages stay the only ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa

from pipelines.xmatters import tables, typed_items
from pipelines.xmatters.item_checks import checked_key
from pipelines.xmatters.settings import ARROW_BATCH_BYTES, ARROW_BATCH_ROWS, PEOPLE_COLUMNS, PEOPLE_SCHEMA
from pipelines.xmatters.tables import Batcher, person_row, sized_slices

_ITEM_TREE = typed_items.item_tree(PEOPLE_COLUMNS)
PersonItem = typed_items.item_struct("PersonItem", _ITEM_TREE, __name__)  # .id, .site.name, ...

decode_page = typed_items.page_decoder(PersonItem)
"""The paging envelope (`data`, `links.next`, `total`) with typed people; None: decode it generically."""

# Converted columns are top-level fields of a person (`properties`): converted in place before
# encoding, by the function of tables.py their `convert` names, as the row path calls it.
_CONVERTED = [
    (column.path[0], getattr(tables, column.convert))
    for column in PEOPLE_COLUMNS
    if column.convert and column.path
]
if any(len(column.path or ()) != 1 for column in PEOPLE_COLUMNS if column.convert):
    raise AssertionError("people_pages converts top-level fields only")


def person_key(item: Any) -> str | None:
    """Paging key of a person, typed or (after a generic decode) a dict, whose fields' types are
    checked here, where paging knows the page (item_checks.py)."""
    if isinstance(item, PersonItem):
        value = item.id
        return value if value else None
    return _dict_person_key(item)


_dict_person_key = checked_key(person_row, PEOPLE_COLUMNS, "a person")


def person_version_key(item: Any) -> tuple[str, str | None] | None:
    """Paging key of `/people`: a person's id and `whenUpdated`, one version of the person.

    Offset paging over changing data lists a person again (rows moved on a page), and a listing
    whose `total` changed is read again: a repeat of the same version is dropped, but a copy
    updated between the two reads (deactivated, renamed) is kept as well, and c1_staging.users
    keeps the newest by `whenUpdated`. Keyed by id alone, the first copy won and the sync gave C1
    a state xMatters no longer had.
    """
    person_id = person_key(item)
    if person_id is None:
        return None
    updated = item.whenUpdated if isinstance(item, PersonItem) else item.get("whenUpdated")
    return person_id, updated if isinstance(updated, str) else None


class PeopleBatcher:
    """Collect people and hand out PEOPLE_SCHEMA tables of at most `batch_rows` rows.

    Typed people are batched apart from the dicts of generically decoded pages: each kind keeps
    its order, and the raw table is a set of rows.
    """

    def __init__(self, batch_rows: int = ARROW_BATCH_ROWS, batch_bytes: int = ARROW_BATCH_BYTES) -> None:
        self.batch_rows = batch_rows
        self.batch_bytes = batch_bytes
        self.items: list[Any] = []
        self.size = 0  # bytes of the pages the typed items came from (`paging.Page.size`)
        self.dict_rows = Batcher(PEOPLE_SCHEMA, batch_rows, batch_bytes)

    def add(self, page: list[Any]) -> Iterator[pa.Table]:
        for part, size in sized_slices(page, getattr(page, "size", 0), self.batch_bytes):
            yield from self._add(part, size)

    def _add(self, page: list[Any], size: int) -> Iterator[pa.Table]:
        typed = [item for item in page if isinstance(item, PersonItem)]
        if len(typed) < len(page):
            dicts = (item for item in page if not isinstance(item, PersonItem))
            dict_size = size * (len(page) - len(typed)) // len(page)
            yield from self.dict_rows.add(map(person_row, dicts), dict_size)
            size -= dict_size
        self.items.extend(typed)
        self.size += size if typed else 0
        if self.size >= self.batch_bytes and self.items:
            yield from self.flush_typed()
        while len(self.items) >= self.batch_rows:
            chunk, self.items = self.items[: self.batch_rows], self.items[self.batch_rows :]
            self.size = 0
            yield _typed_table(chunk)

    def flush_typed(self) -> Iterator[pa.Table]:
        if self.items:
            chunk, self.items, self.size = self.items, [], 0
            yield _typed_table(chunk)

    def flush(self) -> Iterator[pa.Table]:
        yield from self.flush_typed()
        yield from self.dict_rows.flush()


def people_tables(pages: Iterable[list[Any]], batch_rows: int = ARROW_BATCH_ROWS) -> Iterator[pa.Table]:
    """Arrow tables of up to `batch_rows` people from pages of typed or dict items."""
    batcher = PeopleBatcher(batch_rows)
    for page in pages:
        yield from batcher.add(page)
    yield from batcher.flush()


def _typed_table(items: list[Any]) -> pa.Table:
    """PEOPLE_SCHEMA columns of typed people (a null `site` gives nulls below it)."""
    for field, convert in _CONVERTED:
        for item in items:
            value = getattr(item, field)
            if value is not None:
                setattr(item, field, convert(value))
    leaves = typed_items.read_items(items, _PARSE_OPTIONS)
    return pa.Table.from_arrays([leaves.column(name) for name in _LEAF_NAMES], schema=PEOPLE_SCHEMA)


_PARSE_OPTIONS = typed_items.parse_options(_ITEM_TREE)
_LEAF_NAMES = typed_items.leaf_names(PEOPLE_COLUMNS)
