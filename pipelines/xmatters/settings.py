"""Endpoints, limits and the raw table contracts of the xMatters source (its settings: config.py).

The raw column tables are the `xmatters_raw` contract of docs/design.md.
"""

from __future__ import annotations

from typing import NamedTuple

import pyarrow as pa

API_PATH = "/api/xm/1"
PEOPLE_PATH = "/people"
GROUPS_PATH = "/groups"
MEMBERS_PATH = "/groups/{group_id}/members"
DEVICES_PATH = "/devices"

DATASET_NAME = "xmatters_raw"
PIPELINE_NAME = "xmatters"  # `dlt pipeline xmatters info|trace|show`, as users type it
SOURCE_NAME = "xmatters"

MAX_PAGE_SIZE = 1000  # the maximum xMatters accepts, and the default (xMatters' own tools ask for it)
DEFAULT_MAX_PAGES = 10_000  # pages of one listing whose first page has no `total` (10M items at 1000)
MAX_NEXT_LINK_CHARS = 8192  # a longer `links.next` is refused, not requested
CONCURRENCY_START = 8  # requests in flight at first; grown up to --concurrency (adaptive.py)
BACKOFF_BASE_S = 0.5  # first fallback wait when a 429/5xx carries no Retry-After

ARROW_BATCH_ROWS = 16_384  # rows per Arrow table built from pages: enough for dlt's fast path, bounded memory
LOAD_BATCH_ROWS = 65_536  # rows per table handed to dlt, at least (batches joined: source.joined_tables)
# ... and bytes: rows of huge (legal) names made 16,384-row tables of ~500 MB, whose Parquet row
# groups DuckDB could not load in the raw step's memory (Out of Memory Error, the sync failed). A
# batch ends at this many bytes of the bodies its items came from; joined tables at LOAD_BATCH_BYTES.
ARROW_BATCH_BYTES = 8 * 2**20
LOAD_BATCH_BYTES = 32 * 2**20

# Primary-key columns are NOT NULL (paging refuses an item without an id); every other column is
# nullable because xMatters leaves out absent fields.
_S = pa.string()
_B = pa.bool_()


class RawColumn(NamedTuple):
    """One column of a raw table: where its value is in an API item, and its Arrow type.

    `path` is the item's (camelCase) keys from the top; an absent or null object on the way gives
    NULL. `path=None`: not from the item but from the call (`group_id`, the group as `/groups`
    listed it), an argument of the row function. `convert` turns the JSON value into the column's
    (properties -> JSON text, anything but an integer -> NULL).
    """

    name: str
    path: tuple[str, ...] | None
    type: pa.DataType = _S
    nullable: bool = True
    convert: str | None = None  # the name of a function of pipelines/xmatters/tables.py


# The tables of raw columns, one line each (`xmatters_raw` contract of docs/design.md): the dlt
# column hints and Arrow schemas, the row functions (tables.py) and the typed member structs
# (member_pages.py) derive from them. Alike in shape by design (`duplicates` pairs them).
PEOPLE_COLUMNS = (
    RawColumn("id", ("id",), nullable=False),
    RawColumn("target_name", ("targetName",)),
    RawColumn("recipient_type", ("recipientType",)),
    RawColumn("status", ("status",)),
    RawColumn("first_name", ("firstName",)),
    RawColumn("last_name", ("lastName",)),
    RawColumn("web_login", ("webLogin",)),
    RawColumn("phone_login", ("phoneLogin",)),
    RawColumn("license_type", ("licenseType",)),
    RawColumn("language", ("language",)),
    RawColumn("timezone", ("timezone",)),
    RawColumn("external_key", ("externalKey",)),
    RawColumn("externally_owned", ("externallyOwned",), _B),
    RawColumn("locked", ("locked",), _B),
    RawColumn("site__id", ("site", "id")),
    RawColumn("site__name", ("site", "name")),
    RawColumn("properties", ("properties",), convert="json_text"),  # custom fields, NULL when none
    RawColumn("last_login", ("lastLogin",)),
    RawColumn("when_created", ("whenCreated",)),
    RawColumn("when_updated", ("whenUpdated",)),
)
GROUPS_COLUMNS = (
    RawColumn("id", ("id",), nullable=False),
    RawColumn("target_name", ("targetName",)),
    RawColumn("recipient_type", ("recipientType",)),
    RawColumn("status", ("status",)),
    RawColumn("group_type", ("groupType",)),
    RawColumn("description", ("description",)),
    RawColumn("externally_owned", ("externallyOwned",), _B),
    RawColumn("allow_duplicates", ("allowDuplicates",), _B),
    RawColumn("use_default_devices", ("useDefaultDevices",), _B),
    RawColumn("observed_by_all", ("observedByAll",), _B),
    RawColumn("site__id", ("site", "id")),
    RawColumn("site__name", ("site", "name")),
    RawColumn("created", ("created",)),
)
GROUP_MEMBERS_COLUMNS = (
    RawColumn("group_id", None, nullable=False),
    RawColumn("group__target_name", ("group", "targetName")),
    RawColumn("member__id", ("member", "id"), nullable=False),
    RawColumn("member__target_name", ("member", "targetName")),
    RawColumn("member__recipient_type", ("member", "recipientType")),
    RawColumn("member__status", ("member", "status")),
    RawColumn("member__first_name", ("member", "firstName")),
    RawColumn("member__last_name", ("member", "lastName")),
    RawColumn("member__license_type", ("member", "licenseType")),
    RawColumn("member__device_type", ("member", "deviceType")),
    RawColumn("member__name", ("member", "name")),
    RawColumn("member__owner__id", ("member", "owner", "id")),
    RawColumn("member__owner__target_name", ("member", "owner", "targetName")),
)
# EMAIL devices, read only with --sync-emails: one paged call for all people, not one per person.
EMAIL_DEVICES_COLUMNS = (
    RawColumn("id", ("id",), nullable=False),
    RawColumn("owner__id", ("owner", "id"), nullable=False),
    RawColumn("owner__target_name", ("owner", "targetName")),
    RawColumn("name", ("name",)),
    RawColumn("email_address", ("emailAddress",)),
    RawColumn("sequence", ("sequence",), pa.int64(), convert="integer"),
    RawColumn("priority_threshold", ("priorityThreshold",)),
    RawColumn("status", ("status",)),
    RawColumn("default_device", ("defaultDevice",), _B),
)


def arrow_schema(columns: tuple[RawColumn, ...]) -> pa.Schema:
    """Explicit, so an empty page or a column NULL in every row still lands with the right type."""
    return pa.schema([pa.field(c.name, c.type, nullable=c.nullable) for c in columns])


PEOPLE_SCHEMA = arrow_schema(PEOPLE_COLUMNS)
GROUPS_SCHEMA = arrow_schema(GROUPS_COLUMNS)
GROUP_MEMBERS_SCHEMA = arrow_schema(GROUP_MEMBERS_COLUMNS)
EMAIL_DEVICES_SCHEMA = arrow_schema(EMAIL_DEVICES_COLUMNS)


class RawTable(NamedTuple):
    """One raw resource: its name (the dlt resource, the `xmatters_raw` table, the Dagster asset
    `xmatters_raw/<name>`, the key of its row count in `ExtractReport.rows`), columns, schema and
    primary key."""

    name: str
    columns: tuple[RawColumn, ...]
    schema: pa.Schema
    primary_key: str | tuple[str, ...]


PEOPLE = RawTable("people", PEOPLE_COLUMNS, PEOPLE_SCHEMA, "id")
GROUPS = RawTable("groups", GROUPS_COLUMNS, GROUPS_SCHEMA, "id")
GROUP_MEMBERS = RawTable(
    "group_members", GROUP_MEMBERS_COLUMNS, GROUP_MEMBERS_SCHEMA, ("group_id", "member__id")
)
EMAIL_DEVICES = RawTable("email_devices", EMAIL_DEVICES_COLUMNS, EMAIL_DEVICES_SCHEMA, "id")
RAW_TABLES = (PEOPLE, GROUPS, GROUP_MEMBERS, EMAIL_DEVICES)
