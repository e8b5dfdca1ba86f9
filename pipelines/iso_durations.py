"""ISO 8601 durations (`PT1H30M`, `P1DT2H3M4.5S`) for intervals in machine-readable output.

Why: `sql -o json` and `-o csv` wrote DuckDB's INTERVALs as Python's `str(timedelta)`,
`1 day, 2:03:04.500000`, which no JSON or CSV consumer reads as a duration. A duration keeps days
apart from hours (`P1D`, not `PT24H`) as the timedelta holds them; a negative one carries a leading
minus (`-PT1S`, as XML Schema's `xs:duration` and Java's `Duration.parse` read it).
"""

from __future__ import annotations

import datetime


def iso_8601_duration(value: datetime.timedelta) -> str:
    """`value` as an ISO 8601 duration: days, hours, minutes and seconds (fraction to the microsecond)."""
    sign = "-" if value < datetime.timedelta(0) else ""
    magnitude = abs(value)
    hours, rest = divmod(magnitude.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    date = f"{magnitude.days}D" if magnitude.days else ""
    time = f"{hours}H" if hours else ""
    time += f"{minutes}M" if minutes else ""
    if seconds or magnitude.microseconds:
        fraction = f".{magnitude.microseconds:06d}".rstrip("0") if magnitude.microseconds else ""
        time += f"{seconds}{fraction}S"
    if not date and not time:
        return "PT0S"
    return f"{sign}P{date}{'T' + time if time else ''}"
