"""Hostile but legal text for the synthetic organisation (`OrgSpec.hostile_text`).

Why: xMatters accepts text ConductorOne refuses (C1 limits display names to 1024 bytes, descriptions
to 2048), and names made of spaces, right-to-left overrides or control characters. A connector must
deliver a valid sync file for any of it. This rewrites a few people and groups of a built org in
place, from a random generator of its own, so every other value (ids, memberships) stays what
the same seed gives without it. `HOSTILE` lists what is there, for tests to look up.
"""

from __future__ import annotations

from typing import Any

RLO, RLM, ZWSP = "\u202e", "\u200f", "\u200b"
CONTROLS = "\t\x07\x1b[31m\x7f\x01"

# group slot -> fields; slot k is the k-th regular group (after the large ones), wrapped around
GROUP_TEXT: tuple[dict[str, str], ...] = (
    {"targetName": "Ω" * 2500, "description": "Описание дежурства. " * 280},  # 5,000-byte name, 10 KB text
    {"targetName": "日本語サポートチーム" * 40},  # 1,200 bytes, 3-byte characters
    {"targetName": "   "},  # blank: falls back to the id
    {"targetName": f"{RLO}فريق العمليات{RLM}{CONTROLS}" + "🚀" * 300},  # RTL, controls, 4-byte characters
    {"targetName": "é" * 510},  # 1,020 bytes: fits, but "<name> Group Member" does not
    {"targetName": "\u3000\u00a0\u2003", "description": " \t "},  # Unicode blanks
    {"description": "Ærøskøbing ✓ " * 700},  # ~10 KB of 1- to 3-byte characters
)
# person slot -> fields (visible people first, then hidden ones from HIDDEN_TEXT)
PERSON_TEXT: tuple[dict[str, str], ...] = (
    {"firstName": "Ж" * 600, "lastName": "ñ" * 400},  # 2,000-byte display name
    {"firstName": "  ", "lastName": "\t"},  # blank names: falls back to targetName
    {  # no names, 1,100-byte targetName and a different 1,100-byte webLogin
        "targetName": "svc/" + "ü" * 548,
        "webLogin": "login-" + "ß" * 547,
        "externalKey": "EMP-" + "9" * 1200,
    },
    {"firstName": " ", "lastName": "\u3000", "targetName": "  ", "webLogin": " "},  # all blank: the id
    {"firstName": f"{RLO}{ZWSP}Zoë{CONTROLS}", "lastName": "العربية" * 100},  # RTL and controls
)
# (person slot, the address of their first EMAIL device): legal in xMatters, refused by C1's email rule
BAD_EMAIL = (4, "zoë..ops@example.com")
HIDDEN_TEXT: tuple[dict[str, str], ...] = ({"firstName": "門" * 1000, "lastName": ""},)  # 3,000 bytes


def apply_hostile_text(
    people: list[dict[str, Any]],
    hidden_people: list[dict[str, Any]],
    groups: list[dict[str, Any]],
    first_regular_group: int,
) -> None:
    """Rewrite the slots above in place (a missing person or group is simply skipped)."""
    regular = groups[first_regular_group:] or groups
    for slot, fields in enumerate(GROUP_TEXT):
        if slot < len(regular):
            _rewrite(regular[slot], fields)
    for slot, fields in enumerate(PERSON_TEXT):
        if slot < len(people):
            _rewrite(people[slot], fields)
    for slot, fields in enumerate(HIDDEN_TEXT):
        if slot < len(hidden_people):
            _rewrite(hidden_people[slot], fields)


def _rewrite(entity: dict[str, Any], fields: dict[str, str]) -> None:
    for key, value in fields.items():
        entity[key] = value
    if "targetName" in fields and "firstName" not in fields and entity.get("recipientType") == "PERSON":
        entity.pop("firstName", None)  # a name given only as targetName: the person has no first/last
        entity.pop("lastName", None)
