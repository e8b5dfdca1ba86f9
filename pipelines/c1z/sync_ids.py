"""KSUIDs and the time layout of `.c1z` rows.

baton-sdk names each sync with a KSUID and stores times as Go's default SQLite text layout in local
wall-clock time; the Go reader fails on any other layout, so both are reproduced exactly here.
"""

from __future__ import annotations

import os
from datetime import datetime

KSUID_EPOCH = 1_400_000_000
KSUID_LENGTH = 27
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def new_ksuid(at: datetime | None = None) -> str:
    """A KSUID: 4 bytes of seconds since 2014-05-13 plus 16 random bytes, base62, 27 characters."""
    seconds = int((at or datetime.now().astimezone()).timestamp()) - KSUID_EPOCH
    if not 0 <= seconds < 2**32:
        raise ValueError(f"time outside the KSUID range: {at}")
    number = int.from_bytes(seconds.to_bytes(4, "big") + os.urandom(16), "big")
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(_BASE62[rest])
    return "".join(reversed(digits)).rjust(KSUID_LENGTH, "0")


def ksuid_time(ksuid: str) -> datetime:
    """The creation time encoded in a KSUID (local time zone)."""
    number = 0
    for char in ksuid:
        number = number * 62 + _BASE62.index(char)
    return datetime.fromtimestamp((number >> 128) + KSUID_EPOCH).astimezone()


def format_sync_time(moment: datetime) -> str:
    """`YYYY-MM-DD HH:MM:SS[.ffffff]` in local wall-clock time, trailing fraction zeros dropped.

    Aware datetimes are converted to the local zone; naive ones are taken as local already.
    """
    local = moment.astimezone().replace(tzinfo=None) if moment.tzinfo else moment
    text = local.strftime("%Y-%m-%d %H:%M:%S")
    if local.microsecond:
        text += f".{local.microsecond:06d}".rstrip("0")
    return text


def parse_sync_time(text: str | None) -> datetime | None:
    """Reverse of `format_sync_time`; also accepts Go's nanosecond fractions (truncated)."""
    if text is None:
        return None
    base, _, fraction = str(text).partition(".")
    moment = datetime.strptime(base[:19], "%Y-%m-%d %H:%M:%S")
    if fraction:
        digits = "".join(ch for ch in fraction if ch.isdigit())[:6]
        moment = moment.replace(microsecond=int(digits.ljust(6, "0")))
    return moment.astimezone()
