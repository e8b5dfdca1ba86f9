"""One form for a moment in machine-readable output: RFC 3339 in UTC with `Z`, as baton's JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from pipelines.utc_timestamps import rfc3339_utc


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        # naive: the warehouse's TIMESTAMP columns hold UTC
        (datetime(2026, 12, 7, 19, 32, 31, 357208), "2026-12-07T19:32:31.357208Z"),
        # protobuf's JSON (and so `baton -o json`) writes 0, 3, 6 or 9 fractional digits
        (datetime(2026, 12, 7, 19, 32, 31, 500000), "2026-12-07T19:32:31.500Z"),
        (datetime(2026, 12, 7, 19, 32, 31, 1000), "2026-12-07T19:32:31.001Z"),
        (datetime(2026, 12, 7, 19, 32, 31), "2026-12-07T19:32:31Z"),
        (datetime(2026, 12, 7, 19, 32, 31, 10), "2026-12-07T19:32:31.000010Z"),
        # aware: turned to UTC, whatever zone DuckDB's session (or the reader) gave it
        (datetime(2026, 12, 7, 21, 32, 31, tzinfo=timezone(timedelta(hours=2))), "2026-12-07T19:32:31Z"),
        (datetime(2026, 12, 7, 19, 32, 31, tzinfo=UTC), "2026-12-07T19:32:31Z"),
        (datetime(1, 1, 1), "0001-01-01T00:00:00Z"),  # four-digit years, as RFC 3339 requires
    ],
)
def test_rfc3339_utc(moment: datetime, text: str) -> None:
    assert rfc3339_utc(moment) == text
