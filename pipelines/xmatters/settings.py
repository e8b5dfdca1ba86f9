"""Endpoints, defaults and the raw table contracts of the xMatters source.

The column lists are the `xmatters_raw` contract of docs/design.md; the Arrow schemas are explicit
so that an empty page, or a column that is NULL in every row, still lands with the right type.
"""

from __future__ import annotations

import pyarrow as pa

API_PATH = "/api/xm/1"
PEOPLE_PATH = "/people"
GROUPS_PATH = "/groups"
MEMBERS_PATH = "/groups/{group_id}/members"
DEVICES_PATH = "/devices"

DATASET_NAME = "xmatters_raw"
PIPELINE_NAME = "baton_xmatters"
SOURCE_NAME = "xmatters"

DEFAULT_PAGE_SIZE = 1000  # the maximum xMatters accepts (xMatters' own tools ask for it)
MAX_PAGE_SIZE = 1000
DEFAULT_CONCURRENCY = 8
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_ATTEMPTS = 6
DEFAULT_BACKOFF_CAP_S = 30.0
DEFAULT_MAX_RESPONSE_MIB = 256  # decoded bytes of one response body (a gzip bomb, a runaway page)
DEFAULT_MAX_PAGES = 10_000  # pages of one listing whose first page has no `total` (10M items at 1000)
MAX_NEXT_LINK_CHARS = 8192  # a longer `links.next` is refused, not requested
BACKOFF_BASE_S = 0.5  # first fallback wait when a 429/5xx carries no Retry-After

ARROW_BATCH_ROWS = 50_000  # rows per yielded Arrow table: big enough for dlt's fast path, bounded memory

# Environment variables and flags, the names ConductorOne's baton-xmatters connector uses.
ENV_BASE_URL = "BATON_BASE_URL"
ENV_USERNAME = "BATON_USERNAME"
ENV_PASSWORD = "BATON_PASSWORD"
ENV_PASSWORD_FILE = "BATON_PASSWORD_FILE"
ENV_CA_BUNDLE = "BATON_CA_BUNDLE"

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

PEOPLE_PRIMARY_KEY = "id"
GROUPS_PRIMARY_KEY = "id"
GROUP_MEMBERS_PRIMARY_KEY = ("group_id", "member__id")
EMAIL_DEVICES_PRIMARY_KEY = "id"
