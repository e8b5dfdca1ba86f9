"""A moment in machine-readable output: RFC 3339 in UTC with `Z`, as `baton -o json` writes it.

Why: the explorer commands wrote one moment three ways. `sql -o json` wrote a TIMESTAMP as
`2026-12-07T19:32:31.357208` (no offset: most parsers read that as local time) and `-o csv` as
`2026-12-07 19:32:31.357208`, `diff -o json` appended `Z`, `inspect -o json` wrote `+00:00`. The
`baton` CLI's JSON is protobuf's JSON mapping of `google.protobuf.Timestamp`: UTC, `Z`, and 0, 3, 6
or 9 fractional digits (`2025-12-17T16:31:25.057185Z`, `...:25.500Z`, `...:25Z`); this writes the
same (Python holds microseconds, so never 9). A naive datetime is taken as UTC: the warehouse's
TIMESTAMP columns hold UTC without a zone (docs/warehouse.md). An aware one (a TIMESTAMPTZ, which
DuckDB hands over in the session's zone) is turned to UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime


def rfc3339_utc(moment: datetime) -> str:
    """`moment` as `YYYY-MM-DDTHH:MM:SS[.fff|.ffffff]Z`; naive means UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    text = moment.isoformat(timespec="seconds")  # four-digit years, unlike strftime("%Y") on Linux
    micro = moment.microsecond
    if micro == 0:
        return text + "Z"
    if micro % 1000 == 0:
        return f"{text}.{micro // 1000:03d}Z"
    return f"{text}.{micro:06d}Z"
