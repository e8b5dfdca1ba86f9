"""The sudden-drop check says the real share that dropped and the flag that changes the limit.

It used to round both to whole percent: a 0.57% drop of grants against a 0.1% limit read
"(1% drop; limit 0%)", which looks like a bug and names no way out.
"""

from __future__ import annotations

import pytest

from orchestration.checks.drop_checks import drop_summary, evaluate_drop, percent


def test_a_small_drop_against_a_small_limit_reads_as_it_is():
    passed, drop = evaluate_drop(64120, 63755, 0.001)
    assert not passed
    assert drop_summary("grants", 64120, 63755, drop, 0.001) == (
        "grants 64120 -> 63755: 0.57% of grants dropped; limit 0.1% (--max-drop)"
    )


@pytest.mark.parametrize(
    ("ratio", "beside", "text"),
    [
        (0.0057, 0.001, "0.57%"),
        (0.001, 0.0057, "0.1%"),
        (1 / 3, 0.5, "33%"),
        (0.5004, 0.5, "50.04%"),  # just over the limit: enough digits to see it is over
        (0.5, 0.5004, "50%"),
        (0.5, 0.5, "50%"),
        (1.0, 0.5, "100%"),
        (0.996, 0.5, "99.6%"),  # not "100%": not everything dropped
        (0.00001, 0.5, "0.001%"),
        (0.0, None, "0%"),
    ],
)
def test_percent_has_sensible_precision(ratio: float, beside: float | None, text: str):
    assert percent(ratio, beside) == text


def test_growth_and_the_first_sync():
    assert drop_summary("users", 10, 12, 0.0, 0.5) == "users 10 -> 12: none dropped; limit 50% (--max-drop)"
    assert drop_summary("users", None, 12, 0.0, 0.5) == "first published sync"
