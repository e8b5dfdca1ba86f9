"""xMatters group -> C1 `group` row.

Rules (the SQL transform of `xmatters_raw.groups` mirrors them column for column):
- Text that is absent, empty or only whitespace counts as missing (`mapping/text.py`); other text
  is kept as sent, full length (the `.c1z` gets it shortened to C1's limits, `pipelines/c1z/limits.py`).
- group_id = `id`; display_name = `targetName`, else `id`.
- description = `description` (None when missing).
- profile keys (camelCase; None values dropped when encoded; text as sent, blank kept, as in a
  user's profile): targetName, groupType, status, description, site (= `site.name`, else
  `site.id`), externallyOwned, allowDuplicates, useDefaultDevices, observedByAll, created (the
  API's text).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipelines.c1z.rows import GroupRow
from pipelines.c1z.text import text as _text


def group_from_xmatters(group: Mapping[str, Any]) -> GroupRow:
    """A group row from one `/groups` item."""
    site = group.get("site")
    site_name = (_text(site.get("name")) or _text(site.get("id"))) if isinstance(site, Mapping) else None
    return GroupRow(
        group_id=str(group["id"]),
        display_name=_text(group.get("targetName")) or str(group["id"]),
        description=_text(group.get("description")),
        profile={
            "targetName": group.get("targetName"),
            "groupType": group.get("groupType"),
            "status": group.get("status"),
            "description": group.get("description"),  # as sent, blank too (as users' profiles)
            "site": site_name,
            "externallyOwned": group.get("externallyOwned"),
            "allowDuplicates": group.get("allowDuplicates"),
            "useDefaultDevices": group.get("useDefaultDevices"),
            "observedByAll": group.get("observedByAll"),
            "created": group.get("created"),
        },
    )
