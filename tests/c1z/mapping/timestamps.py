"""xMatters timestamps (`2019-06-14T22:17:31.450Z`) -> aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_xmatters_time(value: object) -> datetime | None:
    """An aware UTC datetime, or None when absent or unparseable (a bad date must not sink a sync)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
