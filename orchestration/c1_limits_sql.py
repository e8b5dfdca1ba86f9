"""C1's text rules as DuckDB SQL: ids and names, blank text, the byte limits of `pipelines/c1z/limits.py`.

Why here: the staged tables keep xMatters' full text (the warehouse's users query it), while the
`.c1z` must pass ConductorOne's validation. So the writer reads the staged tables through
`c1z_select`, which shortens each limited column set-based in DuckDB (only rows over a limit pay
for it), and the blocking check `orchestration/checks/limits_checks.py` audits exactly that
output. Both take their numbers from `LIMITED_COLUMNS`, built from `pipelines.c1z.limits`.

`install_macros` defines temporary macros on a connection (every cursor that runs the staging SQL
or these queries calls it first):
- `c1_entitlement_id(group_id)`, `c1_grant_id(group_id, principal_type, principal_id)`,
  `c1_member_display_name(group_name)`, `c1_member_description(group_name)`, `c1_member_slug()`:
  the ids and names of `pipelines/c1z/ids.py`, made from its templates;
- `c1_text(s)`: NULL when `s` is NULL, empty or only whitespace, after removing U+0000 (NUL, which
  C1's PostgreSQL refuses; `pipelines/c1z/text.py`). Text
  whose first character is in `!`..U+0084 (no whitespace there) is not blank, and skips the regex:
  nearly every name does (M, memberships.sql's four names of 207k rows: 0.072 -> 0.039 CPU-s,
  docs/benchmarks.md); `ltrim` of the whitespace set instead was slower than the regex (0.28 s);
- `c1_shorten(s, n)`: `s` if it fits in `n` UTF-8 bytes, else its longest prefix of at most
  `n - 3` bytes that ends on a character boundary, then "…" (`limits.shorten` in Python). The
  prefix is cut from the UTF-8 bytes of its first n characters; a cut inside a character leaves
  invalid UTF-8, which `try(decode(...))` refuses, so the first of the four cuts n-3 .. n-6 that
  decodes is the boundary.
"""

from __future__ import annotations

from string import Formatter
from typing import Any

from pipelines.c1z import ids, limits
from pipelines.c1z.limits import Limit
from pipelines.c1z.text import BLANK_SQL_PATTERN, WHITESPACE_RANGES

STAGING = "c1_staging"

# cut from the UTF-8 bytes of the first n characters (at least n bytes when the text is longer), not
# of the whole text: 5,000 entitlement names of 20 KB had the check's and the writer's queries copy
# each whole name four times per vector of rows, ~180 MB above DuckDB's limit in the sync process
_SHORTEN_CUTS = ", ".join(f"try(decode(encode(left(s, n))[1:n - {3 + back}]))" for back in range(4))


def template_macro(name: str, template: str) -> str:
    """A macro that builds `template`'s text in SQL: `"group:{group_id}:member"` becomes
    `c1_x(group_id) AS 'group:' || group_id || ':member'` (NULL in, NULL out, as in SQL)."""
    parts, parameters = [], []
    for literal, field, _, _ in Formatter().parse(template):
        if literal:
            parts.append("'" + literal.replace("'", "''") + "'")
        if field:
            parts.append(field)
            parameters.append(field)
    return f"CREATE OR REPLACE TEMP MACRO {name}({', '.join(parameters)}) AS {' || '.join(parts)}"


# code points a text can start with that make it not blank at once (`c1_text`): none is whitespace
_NOT_BLANK_FIRST = (0x21, 0x84)
assert not any(low <= _NOT_BLANK_FIRST[1] and high >= _NOT_BLANK_FIRST[0] for low, high in WHITESPACE_RANGES)

MACROS = (
    f"CREATE OR REPLACE TEMP MACRO c1_text(s) AS "
    f"CASE WHEN contains(s, chr(0)) THEN CASE WHEN regexp_full_match(replace(s, chr(0), ''), "
    f"'{BLANK_SQL_PATTERN}') THEN NULL ELSE replace(s, chr(0), '') END "
    f"WHEN ord(s) BETWEEN {_NOT_BLANK_FIRST[0]} AND {_NOT_BLANK_FIRST[1]} THEN s "
    f"WHEN regexp_full_match(s, '{BLANK_SQL_PATTERN}') THEN NULL ELSE s END",
    f"CREATE OR REPLACE TEMP MACRO c1_shorten(s, n) AS "
    f"CASE WHEN strlen(s) <= n THEN s ELSE coalesce({_SHORTEN_CUTS}) || '{limits.ELLIPSIS}' END",
    # the ids and names of pipelines/c1z/ids.py, which the .c1z writer builds from the same templates
    template_macro("c1_entitlement_id", ids.ENTITLEMENT_ID),
    template_macro("c1_grant_id", ids.GRANT_ID),
    template_macro("c1_member_display_name", ids.MEMBER_DISPLAY_NAME),
    template_macro("c1_member_description", ids.MEMBER_DESCRIPTION),
    template_macro("c1_member_slug", ids.MEMBER_SLUG),
)

# staged table -> (C1 object type, key column, {column: the rule the .c1z value must pass})
LIMITED_COLUMNS: dict[str, tuple[str, str, dict[str, Limit]]] = {
    "users": (
        "user",
        "user_id",
        {"display_name": limits.RESOURCE_DISPLAY_NAME, "status_details": limits.STATUS_DETAILS},
    ),
    "groups": (
        "group",
        "group_id",
        {"display_name": limits.RESOURCE_DISPLAY_NAME, "description": limits.RESOURCE_DESCRIPTION},
    ),
    "entitlements": (
        "entitlement",
        "entitlement_id",
        {"display_name": limits.ENTITLEMENT_DISPLAY_NAME, "description": limits.ENTITLEMENT_DESCRIPTION},
    ),
}
# Ids are keys: never shortened, only checked (a longer one blocks publishing).
ID_COLUMNS: dict[str, tuple[str, Limit]] = {
    "users": ("user_id", limits.RESOURCE_ID),
    "groups": ("group_id", limits.RESOURCE_ID),
    "entitlements": ("entitlement_id", limits.ENTITLEMENT_ID),
    "grants": ("grant_id", limits.GRANT_ID),
}


def install_macros(con: Any) -> None:
    """Define the macros on this connection or cursor (temporary, idempotent)."""
    for statement in MACROS:
        con.execute(statement)


def c1z_select(table: str, columns: list[str], *, order_by: str | None = None, where: str = "") -> str:
    """`SELECT columns FROM c1_staging.<table>` with each limited column shortened to its C1 limit.

    The query the `.c1z` writer reads and the limits check audits (needs `install_macros`); `where`
    keeps only some rows (a key range of `orchestration/key_ranges.py`).
    """
    limited = LIMITED_COLUMNS.get(table, ("", "", {}))[2]
    parts = [
        f"c1_shorten({column}, {limited[column].max_bytes}) AS {column}" if column in limited else column
        for column in columns
    ]
    query = f"SELECT {', '.join(parts)} FROM {STAGING}.{table}" + (f" WHERE {where}" if where else "")
    return query + (f" ORDER BY {order_by}" if order_by else "")


def violations_query(table: str) -> str:
    """Rows of the writer's view of `table` that break a byte rule: (key, column, bytes)."""
    parts = []
    if table in LIMITED_COLUMNS:
        _, key, columns = LIMITED_COLUMNS[table]
        view = c1z_select(table, [key, *columns])
        for column, limit in columns.items():
            parts.append(
                f"SELECT {key} AS id, '{column}' AS column_name, strlen({column}) AS bytes FROM ({view}) "
                f"WHERE {_breaks(column, limit)}"
            )
    if table in ID_COLUMNS:
        column, limit = ID_COLUMNS[table]
        parts.append(
            f"SELECT {column} AS id, '{column}' AS column_name, strlen({column}) AS bytes "
            f"FROM {STAGING}.{table} WHERE {_breaks(column, limit)}"
        )
    return " UNION ALL ".join(parts)


def _breaks(column: str, limit: Limit) -> str:
    size = f"strlen({column})"
    broken = f"{size} > {limit.max_bytes} OR {size} < {limit.min_bytes}"
    if limit.ignore_empty:
        return f"{column} <> '' AND ({broken})"
    return f"{column} IS NULL OR {broken}"


def shortened_query(table: str) -> str:
    """Objects of `table` whose text the `.c1z` gets shortened: (type, id, display_name, columns)."""
    kind, key, columns = LIMITED_COLUMNS[table]
    over = [f"CASE WHEN strlen({c}) > {limit.max_bytes} THEN '{c}' END" for c, limit in columns.items()]
    return (
        f"SELECT '{kind}' AS object_type, {key} AS id, display_name, "
        f"list_filter([{', '.join(over)}], lambda c: c IS NOT NULL) AS columns "
        f"FROM {STAGING}.{table} "
        f"WHERE {' OR '.join(f'strlen({c}) > {limit.max_bytes}' for c, limit in columns.items())}"
    )
