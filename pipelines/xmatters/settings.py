"""Endpoints, limits and the raw table contracts of the xMatters source (its settings: config.py).

The column lists are the `xmatters_raw` contract of docs/design.md; the Arrow schemas are explicit
so that an empty page, or a column that is NULL in every row, still lands with the right type.
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
PIPELINE_NAME = "baton_xmatters"
SOURCE_NAME = "xmatters"

MAX_PAGE_SIZE = 1000  # the maximum xMatters accepts, and the default (xMatters' own tools ask for it)
BACKOFF_BASE_S = 0.5  # first fallback wait when a 429/5xx carries no Retry-After

ARROW_BATCH_ROWS = 50_000  # rows per yielded Arrow table: big enough for dlt's fast path, bounded memory

# Primary-key columns are NOT NULL (paging refuses an item without an id); every other column is
# nullable because xMatters leaves out absent fields.
_S = pa.string()
_B = pa.bool_()

PEOPLE_SCHEMA = pa.schema(
    [
        pa.field("id", _S, nullable=False),
        ("target_name", _S),
        ("recipient_type", _S),
        ("status", _S),
        ("first_name", _S),
        ("last_name", _S),
        ("web_login", _S),
        ("phone_login", _S),
        ("license_type", _S),
        ("language", _S),
        ("timezone", _S),
        ("external_key", _S),
        ("externally_owned", _B),
        ("locked", _B),
        ("site__id", _S),
        ("site__name", _S),
        ("properties", _S),
        ("last_login", _S),
        ("when_created", _S),
        ("when_updated", _S),
    ]
)

GROUPS_SCHEMA = pa.schema(
    [
        pa.field("id", _S, nullable=False),
        ("target_name", _S),
        ("recipient_type", _S),
        ("status", _S),
        ("group_type", _S),
        ("description", _S),
        ("externally_owned", _B),
        ("allow_duplicates", _B),
        ("use_default_devices", _B),
        ("observed_by_all", _B),
        ("site__id", _S),
        ("site__name", _S),
        ("created", _S),
    ]
)

GROUP_MEMBERS_SCHEMA = pa.schema(
    [
        pa.field("group_id", _S, nullable=False),
        ("group__target_name", _S),
        pa.field("member__id", _S, nullable=False),
        ("member__target_name", _S),
        ("member__recipient_type", _S),
        ("member__status", _S),
        ("member__first_name", _S),
        ("member__last_name", _S),
        ("member__license_type", _S),
        ("member__device_type", _S),
        ("member__name", _S),
        ("member__owner__id", _S),
        ("member__owner__target_name", _S),
    ]
)

# EMAIL devices, read only with --sync-emails: one paged call for all people, not one per person.
EMAIL_DEVICES_SCHEMA = pa.schema(
    [
        pa.field("id", _S, nullable=False),
        pa.field("owner__id", _S, nullable=False),
        ("owner__target_name", _S),
        ("name", _S),
        ("email_address", _S),
        ("sequence", pa.int64()),
        ("priority_threshold", _S),
        ("status", _S),
        ("default_device", _B),
    ]
)


class RawTable(NamedTuple):
    """One raw resource: its name (the dlt resource, the `xmatters_raw` table, the Dagster asset
    `xmatters_raw/<name>`, the key of its row count in `ExtractReport.rows`), schema and primary key."""

    name: str
    schema: pa.Schema
    primary_key: str | tuple[str, ...]


PEOPLE = RawTable("people", PEOPLE_SCHEMA, "id")
GROUPS = RawTable("groups", GROUPS_SCHEMA, "id")
GROUP_MEMBERS = RawTable("group_members", GROUP_MEMBERS_SCHEMA, ("group_id", "member__id"))
EMAIL_DEVICES = RawTable("email_devices", EMAIL_DEVICES_SCHEMA, "id")
RAW_TABLES = (PEOPLE, GROUPS, GROUP_MEMBERS, EMAIL_DEVICES)
