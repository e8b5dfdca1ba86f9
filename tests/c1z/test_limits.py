"""C1's byte limits (pipelines/c1z/limits.py): the shortening rule, and the numbers against baton-sdk's own
`.proto` files (`../shared/interop/baton-sdk-protos/`, skipped without them)."""

from __future__ import annotations

import re

import pytest

from pipelines.c1z import limits
from pipelines.c1z.limits import ELLIPSIS, shorten
from tests.shared_dir import SHARED

PROTOS = SHARED / "interop" / "baton-sdk-protos" / "c1" / "connector" / "v2"


@pytest.mark.parametrize("char", ["a", "é", "日", "🚀"])
def test_shorten_cuts_at_a_character_boundary_and_ends_in_an_ellipsis(char):
    for offset in range(4):  # every position of the cut within a character
        text = "x" * offset + char * 1100
        short = shorten(text, 1024)
        assert short is not None and len(short.encode()) <= 1024
        assert short.endswith(ELLIPSIS) and text.startswith(short[:-1])
        assert len(short.encode()) > 1024 - 3 - len(char.encode())  # the longest prefix that fits


def test_shorten_keeps_what_fits():
    assert shorten(None, 10) is None
    assert shorten("", 10) == ""
    assert shorten("é" * 5, 10) == "é" * 5  # exactly 10 bytes
    assert shorten("é" * 6, 10) == "ééé" + ELLIPSIS  # 6 + 3 bytes


def test_fits():
    assert limits.fits("", limits.RESOURCE_DISPLAY_NAME) and not limits.fits("", limits.RESOURCE_ID)
    assert limits.fits("Ω" * 512, limits.RESOURCE_DISPLAY_NAME)
    assert not limits.fits("Ω" * 513, limits.RESOURCE_DISPLAY_NAME)


def _rule(message: str, field: str) -> dict[str, str]:
    """The `(validate.rules).string` options of `field` in `message`, from baton-sdk's .proto files."""
    for proto in sorted(PROTOS.glob("*.proto")):
        text = proto.read_text(encoding="utf-8")
        body = re.search(rf"\nmessage {message} \{{(.*?)\n\}}", text, re.S)
        if body is None:
            continue
        rule = re.search(
            rf"string {field} = \d+ \[\(validate\.rules\)\.string = \{{(.*?)\}}\]", body.group(1), re.S
        )
        if rule is not None:
            return dict(re.findall(r"(\w+): (\w+)", rule.group(1)))
    raise AssertionError(f"no validate rule for {message}.{field} in {PROTOS}")


@pytest.mark.parametrize("limit", limits.LIMITS, ids=lambda limit: f"{limit.message}.{limit.field}")
def test_each_limit_is_baton_sdks_rule(limit):
    if not PROTOS.is_dir():
        pytest.skip(f"baton-sdk's .proto files are not at {PROTOS.resolve()} (a clone without ../shared)")
    rule = _rule(limit.message, limit.field)
    assert int(rule["max_bytes"]) == limit.max_bytes
    assert int(rule.get("min_bytes", "0")) == limit.min_bytes
    assert (rule.get("ignore_empty") == "true") == limit.ignore_empty
