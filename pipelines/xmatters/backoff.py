"""How long to wait before retrying a 429, a 5xx or a dropped connection.

`Retry-After` (seconds or an HTTP date) wins when the server sends it, but every wait is capped so
a hostile or confused server cannot park the sync for hours; otherwise the wait grows
exponentially with jitter, so eight member threads that failed together do not retry together.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from pipelines.xmatters.settings import BACKOFF_BASE_S

# RFC 9110 delay-seconds is 1*DIGIT; a decimal fraction is tolerated. Python's `float` reads more
# (`nan`, `-5`, `inf`, `1e3`, `1_0`): `nan` and `-5` became a wait of 0 s, so a server saying them on
# every 429 had each attempt retried at once instead of backing off.
_DELAY_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def retry_after_seconds(header: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait according to a `Retry-After` header, or None when absent or unreadable
    (then the exponential backoff applies)."""
    if header is None:
        return None
    text = header.strip()
    if not text:
        return None
    if _DELAY_SECONDS.fullmatch(text):
        return float(text)  # 400 digits are `inf`: capped like any long wait
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def backoff_delay(attempt: int, cap_s: float, retry_after: float | None = None) -> float:
    """Wait before attempt `attempt + 1` (attempt counts from 1), never longer than `cap_s`."""
    if retry_after is not None:
        return min(cap_s, retry_after)
    exponential = BACKOFF_BASE_S * 2 ** (attempt - 1)
    return min(cap_s, exponential) * random.uniform(0.5, 1.0)
