"""The "sudden drop" guard: block publishing when users or grants shrink by more than a threshold.

A permission change on the API account makes `/people` or a group's members quietly return less,
which looks exactly like mass revocation; publishing that would tell C1 to remove access that still
exists. The threshold is `SyncSettings.max_drop_ratio` (per-run overridable; 1.0 disables).
After a change of source (`--new-source`) the published tables are another tenant's: the
comparison starts over, like a first sync.

Users are counted as `/people` listed them (`visible`): a person the account no longer sees but who
is still some group's member stays a user ("not visible to the connector account"), so `/people`
going empty while the member lists stay left the count of all users as it was and published every
user as unknown.

Turning `--expand-nested-groups` off drops every grant to a nested group, legitimately: the grants
check then says the setting changed since the last published sync (`c1.sync_runs` records it) and
how to accept the drop, so it does not read like a permission change on the API account.

The message names the settings as the run took them: CLI flags in a run of the command line
(`--max-drop`), the Launchpad's config fields in any other (the UI's, the schedule's, a
re-executed CLI run's), as the Launchpad's own validation does (`resource_settings.config_labels`).
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass

import dagster as dg
import duckdb

from orchestration.assets.c1_tables import STAGING, staging_key
from orchestration.checks.table_check import CheckResources, TableCheck
from orchestration.publish import PUBLISHED, last_published_setting
from orchestration.resource_settings import config_labels
from orchestration.resources import SYNC_SETTINGS
from orchestration.run_tags import named_by_flags
from orchestration.sync_options import SyncOptions
from orchestration.sync_source import is_new_source, last_source
from orchestration.table_schema import table_exists
from pipelines.xmatters.settings_table import declared

# the rows each check counts, and what its message calls them
COUNTED = {"users": ("WHERE visible", " listed by /people"), "grants": ("", "")}


@dataclass(frozen=True)
class SettingNames:
    """How the message names the settings it mentions, and the way to accept a drop once."""

    max_drop: str = "--max-drop"
    expand: str = "--expand-nested-groups"
    accept: str = "--max-drop 1"


FLAG_NAMES = SettingNames()


def setting_names(run_tags: Mapping[str, str]) -> SettingNames:
    """The flags for a run of the command line (`run_tags.named_by_flags`), else the config fields."""
    if named_by_flags(run_tags):
        names = {item.name: item.label for item in declared(SyncOptions)}
        return SettingNames(
            names["max_drop_ratio"], names["expand_nested_groups"], f"{names['max_drop_ratio']} 1"
        )
    names = config_labels(SYNC_SETTINGS, SyncOptions)
    return SettingNames(
        names["max_drop_ratio"], names["expand_nested_groups"], f"{names['max_drop_ratio']}: 1"
    )


def counted_rows(con: object, schema: str, table: str) -> int:
    """The rows of `schema.table` the drop check of `table` counts (COUNTED)."""
    where = COUNTED[table][0]
    return int(con.sql(f"SELECT count(*) FROM {schema}.{table} {where}").fetchall()[0][0])  # type: ignore[attr-defined]


def published_count(con: object, table: str) -> int | None:
    """The counted rows of the published table, or None before the first published sync."""
    if not table_exists(con, PUBLISHED, table):
        return None
    return counted_rows(con, PUBLISHED, table)


def evaluate_drop(previous: int | None, current: int, max_drop_ratio: float) -> tuple[bool, float]:
    """(passed, observed drop ratio); the first sync and any growth always pass."""
    if not previous:
        return True, 0.0
    drop = max(0.0, (previous - current) / previous)
    return drop <= max_drop_ratio, drop


def percent(ratio: float, beside: float | None = None) -> str:
    """`0.57%`, `50%`: two significant digits, more when needed to tell `ratio` from `beside`.

    A drop of 50.04% against a limit of 50% must not read "50% dropped; limit 50%", nor 99.6% read
    as "100%" (everything) or 0.001% as "0%" (nothing).
    """
    for digits in range(2, 8):
        text = _significant(ratio * 100, digits)
        ambiguous = beside is not None and ratio != beside and text == _significant(beside * 100, digits)
        if not ambiguous and (text != "100" or ratio == 1) and (text != "0" or ratio == 0):
            break
    return text + "%"


def _significant(value: float, digits: int) -> str:
    """`value` to `digits` significant digits, never in exponent notation, no trailing zeros."""
    if value == 0:
        return "0"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def drop_summary(
    table: str,
    previous: int | None,
    current: int,
    drop: float,
    limit: float,
    *,
    new_source: bool = False,
    counted: str = "",
    expansion_was: bool | None = None,
    expansion_is: bool | None = None,
    names: SettingNames = FLAG_NAMES,
) -> str:
    """What the check saw, with the flag that changes the limit (the CLI prints it on failure);
    `counted` says which rows of `table` were counted (" listed by /people"). `expansion_was` and
    `expansion_is` are --expand-nested-groups at the last published sync (None: not recorded) and
    now: a drop after a change says so. `names`: the settings as the run took them."""
    if previous is None:
        return "first published sync of a new source" if new_source else "first published sync"
    seen = f"{table}{counted} {previous} -> {current}"
    if drop == 0:
        return f"{seen}: none dropped; limit {percent(limit)} ({names.max_drop})"
    return (
        f"{seen}: {percent(drop, limit)} of {table} dropped; limit {percent(limit, drop)} ({names.max_drop})"
        + expansion_change(expansion_was, expansion_is, names)
    )


def expansion_change(was: bool | None, now: bool | None, names: SettingNames = FLAG_NAMES) -> str:
    """ "; the last published sync was made with --expand-nested-groups and this one without ...",
    or "" when the setting is the same or the last sync's is unknown."""
    if was is None or now is None or was == now:
        return ""
    if was:
        return (
            f"; the last published sync was made with {names.expand} and this one without "
            "(grants to nested groups are not made now): if that is meant, accept the drop once with "
            f"{names.accept}"
        )
    return f"; the last published sync was made without {names.expand} and this one with"


def drop_result(table: str, con: duckdb.DuckDBPyConnection, resources: CheckResources) -> dg.AssetCheckResult:
    """`table` staged against its last published count, under the run's `max_drop_ratio`."""
    max_drop_ratio = resources.sync_settings.max_drop_ratio
    new_source = is_new_source(last_source(con), resources.xmatters.source())
    previous = None if new_source else published_count(con, table)
    current = counted_rows(con, STAGING, table)
    passed, drop = evaluate_drop(previous, current, max_drop_ratio)
    # only grants depend on the setting; a new source's last sync is another tenant's
    expansion_was = (
        last_published_setting(con, "expand_nested_groups") if table == "grants" and not new_source else None
    )
    return dg.AssetCheckResult(
        check_name=f"{table}_sudden_drop",
        asset_key=staging_key(table),
        passed=passed,
        description=drop_summary(
            table,
            previous,
            current,
            drop,
            max_drop_ratio,
            new_source=new_source,
            counted=COUNTED[table][1],
            expansion_was=expansion_was,
            expansion_is=resources.sync_settings.expand_nested_groups,
            names=setting_names(resources.run_tags),
        ),
        metadata={
            "previous": dg.MetadataValue.int(previous or 0),
            "current": dg.MetadataValue.int(current),
            "drop_ratio": dg.MetadataValue.float(drop),
            "max_drop_ratio": dg.MetadataValue.float(max_drop_ratio),
        },
    )


# The same shape as limits_checks.py's `_check` on purpose (`duplicates` pairs them): each check
# module declares its own specs, so a reader finds a check's name, table and description in the
# module that evaluates it; a shared factory would save four lines and hide them.
def _check(table: str) -> TableCheck:
    def evaluate(con: duckdb.DuckDBPyConnection, resources: CheckResources) -> dg.AssetCheckResult:
        return drop_result(table, con, resources)

    spec = dg.AssetCheckSpec(
        name=f"{table}_sudden_drop",
        asset=staging_key(table),
        blocking=True,
        description=f"Blocks publishing when {table} drop by more than max_drop_ratio since the last "
        "published sync.",
    )
    return TableCheck(spec, evaluate)


drop_checks = [_check("users"), _check("grants")]
