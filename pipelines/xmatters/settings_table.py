"""Settings declared once, as data: every place a setting shows up is derived from its declaration.

A setting is a field of a frozen dataclass declared with `setting(...)`: its flag, environment
variable, default, check, help text and whether it is secret, on one line, the way baton
connectors declare `field.StringField("api-key", field.WithIsSecret(true), ...)` in one config.go.
From those fields come the command-line arguments (`add_arguments`), the values taken from flags
over environment variables over defaults (`values_from`), the checks with one wording (`check`),
dlt's configuration keys (`values_from_dlt`) and, in orchestration/resource_settings.py, the config
fields of the Dagster resource. A new setting is one more field; nothing else repeats it.

No Dagster here (pipelines know nothing of it), and dlt only when its configuration route is used.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import os
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass
from pathlib import Path
from typing import Any

from pipelines.xmatters.errors import ConfigError

SETTING = "setting"  # the key of a dataclass field's metadata that holds its `Setting`

Check = Callable[[Any], "str | None"]
"""What is wrong with a value (`must be >= 1`), said after the setting's flag; None when it is fine."""

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}
_INT64_LIMIT = 2**63  # what DuckDB, SQLite and Dagster store an integer setting in
_KIND = {bool: "true or false", int: "an integer", float: "a number", str: "text"}


@dataclass(frozen=True)
class Setting:
    """How one setting is given: everything but its name, type and default (the field's own)."""

    help: str
    group: str = ""  # the --help section it is listed in
    flag: str | None = None  # `--timeout`; None: not on the command line (dlt or Dagster only)
    short: str | None = None  # `-f`
    env: str | None = None  # the variable read when the flag is not given
    secret: bool = False  # out of repr; read by dlt as a secret; never in Dagster's config schema
    required: bool = False
    check: Check | None = None
    file_flag: str | None = None  # a secret may be read from a file instead (out of shell history)
    file_env: str | None = None
    dlt_key: str | None = None  # its key under the dlt section; default: the field's name


def setting(
    help: str,
    *,
    default: Any = MISSING,
    group: str = "",
    flag: str | None = None,
    short: str | None = None,
    env: str | None = None,
    secret: bool = False,
    required: bool = False,
    check: Check | None = None,
    file_flag: str | None = None,
    file_env: str | None = None,
    dlt_key: str | None = None,
) -> Any:
    """A dataclass field that is a setting (a required one gets "" as its default: `check` names it)."""
    declared = Setting(help, group, flag, short, env, secret, required, check, file_flag, file_env, dlt_key)
    if default is MISSING:
        default = "" if required else None
    return dataclasses.field(default=default, repr=not secret, metadata={SETTING: declared})


@dataclass(frozen=True)
class Declared:
    """A setting with its field's name, value type (`T` of `T | None`) and default."""

    name: str
    type: type
    optional: bool
    default: Any
    spec: Setting

    @property
    def label(self) -> str:
        """How messages name it: its flag, else its name."""
        return self.spec.flag or self.name

    @property
    def dlt_key(self) -> str:
        return self.spec.dlt_key or self.name

    def parse(self, raw: Any, source: str) -> Any:
        """`raw` (text from a flag, a variable or a file; or a typed value) as the setting's type."""
        if not isinstance(raw, str) or self.type is str:
            return raw
        if self.type is bool:
            text = raw.strip().lower()
            if text in _TRUE or text in _FALSE:
                return text in _TRUE
            raise ConfigError(f"{source} must be {_KIND[bool]}, got {raw!r}")
        try:
            value = self.type(raw)
        except ValueError:
            raise ConfigError(
                f"{source} must be {_KIND.get(self.type, self.type.__name__)}, got {raw!r}"
            ) from None
        # Python reads `inf`, `nan` and integers of any size, which no setting can use: `--timeout
        # inf` failed after the first request (dlt: `timestamp out of range for platform time_t`),
        # `--history-retention 100000000000000000000` after publishing (DuckDB: out of range for
        # INT64); a negative one is left to the setting's own check (`must be >= 1`)
        if self.type is float and not math.isfinite(value):
            raise ConfigError(f"{source} must be a finite number, got {raw!r}")
        if self.type is int and value >= _INT64_LIMIT:
            raise ConfigError(f"{source} must be at most {_INT64_LIMIT - 1}, got {raw!r}")
        return value


@functools.cache
def declared(cls: type) -> tuple[Declared, ...]:
    """The settings of dataclass `cls`, in declaration order."""
    hints = typing.get_type_hints(cls)
    found = []
    for field in dataclasses.fields(cls):
        spec = field.metadata.get(SETTING)
        if spec is None:
            continue
        value_type, optional = _unwrap_optional(hints[field.name])
        found.append(Declared(field.name, value_type, optional, field.default, spec))
    return tuple(found)


def add_arguments(parser: argparse.ArgumentParser, *classes: type) -> dict[str, argparse._ActionsContainer]:
    """One argument per setting with a flag, in `--help` sections named by the settings' groups.

    Returns the sections by group name ("" is the parser), for arguments that are not settings.

    Every default is None, so `values_from` can tell a flag not given (the variable, then the
    setting's default decide) from one given; `--help` shows the real default and the variable.
    """
    sections: dict[str, argparse._ActionsContainer] = {"": parser}
    for cls in classes:
        for item in declared(cls):
            spec = item.spec
            if spec.flag is None:
                continue
            if spec.group not in sections:
                sections[spec.group] = parser.add_argument_group(spec.group)
            section = sections[spec.group]
            names = [spec.short, spec.flag] if spec.short else [spec.flag]
            notes = [f"default {item.default:g}" if isinstance(item.default, float) else ""]
            if not notes[0] and item.default not in (None, "", False):
                notes[0] = f"default {item.default}"
            notes += [f"${spec.env}"] if spec.env else []
            help_text = spec.help + (f" ({'; '.join(n for n in notes if n)})" if any(notes) else "")
            if item.type is bool:
                section.add_argument(
                    *names, dest=item.name, action="store_true", default=None, help=help_text
                )
            else:
                section.add_argument(*names, dest=item.name, default=None, help=help_text)
            if spec.file_flag:
                section.add_argument(
                    spec.file_flag,
                    dest=_key(spec.file_flag),
                    default=None,
                    metavar="PATH",
                    help=f"read {spec.flag} from a file" + (f" (${spec.file_env})" if spec.file_env else ""),
                )
    return sections


def values_from(
    cls: type, flags: Mapping[str, Any], env: Mapping[str, str], labels: dict[str, str] | None = None
) -> dict[str, Any]:
    """The settings given by a flag (keyed by dest, field name or flag), else by their variable.

    Settings given by neither are left out: the dataclass's defaults fill them in. A secret's file
    is read only when nothing before it gives the secret, flags before variables: `--password`,
    `--password-file`, `BATON_PASSWORD`, `BATON_PASSWORD_FILE` (a `--password-file` typed on the
    command line is not overruled by a `BATON_PASSWORD` left in the shell).

    A flag given empty (`--base-url ""`, an unset shell variable expanded) is refused, naming it:
    falling back to the variable would read a value the command line seemed to override. An empty
    variable counts as unset, as in baton. `labels` receives, per setting read, what gave it (the
    flag or the variable) so that `check` names what the user actually set.
    """
    _refuse_empty_flags(cls, flags)
    given = {_key(name): value for name, value in flags.items() if value is not None}
    values: dict[str, Any] = {}
    for item in declared(cls):
        spec = item.spec
        raw: Any = given.get(item.name, given.get(_key(spec.flag or item.name)))
        source = item.label
        if raw is None and spec.file_flag and given.get(_key(spec.file_flag)):
            raw = _read_secret_file(item.name, given[_key(spec.file_flag)])
        if raw is None and spec.env and env.get(spec.env):
            raw, source = env[spec.env], spec.env
            _refuse_blank_variable(item, raw)
        if raw is None and spec.file_env and env.get(spec.file_env):
            raw, source = _read_secret_file(item.name, env[spec.file_env]), spec.file_env
        if raw is not None:
            values[item.name] = item.parse(raw, source)
            if labels is not None:
                labels[item.name] = source
    return values


def _refuse_blank_variable(item: Declared, value: str) -> None:
    """A variable of only whitespace is refused, naming it, as a blank flag is: `BATON_FILE=" "`
    synced into a file named " " of the working directory, `BATON_USERNAME=" "` was sent as the
    user name. A secret is left as it is (a password file keeps its spaces too)."""
    spec = item.spec
    if item.type is not str or spec.secret or value.strip():
        return
    flag = f"{spec.short}/{spec.flag}" if spec.short and spec.flag else spec.flag
    if spec.required:
        instead = f"set it, or give {flag}" if flag else "set it"
    else:
        instead = f"give {flag}, or unset it to use the default" if flag else "unset it to use the default"
    raise ConfigError(f"{spec.env} is blank ({instead})")


def _refuse_empty_flags(cls: type, flags: Mapping[str, Any]) -> None:
    for item in declared(cls):
        spec = item.spec
        named = [(item.name, spec.flag, spec.env), (_key(spec.flag or item.name), spec.flag, spec.env)]
        named += [(_key(spec.file_flag), spec.file_flag, spec.file_env)] if spec.file_flag else []
        for key, flag, variable in named:
            value = flags.get(key)
            # blank as empty: `--base-url "  "` was a missing base URL though BATON_BASE_URL was
            # set, `--username " "` a user name, `-f " "` a file named " "
            if flag and isinstance(value, str) and not value.strip():
                shown = f"{spec.short}/{flag}" if spec.short and flag == spec.flag else flag
                fallback = [f"${variable}"] if variable else []
                fallback += [] if spec.required else ["the default"]
                instead = " or ".join(fallback)
                blank = "empty" if value == "" else "blank"
                raise ConfigError(f"{shown} is {blank} (leave it out to use {instead})")


def given(cls: type, flags: Mapping[str, Any], env: Mapping[str, str]) -> set[str]:
    """The names of the settings a flag, their variable or (a secret) their file gives, unread."""
    present = {_key(name) for name, value in flags.items() if value is not None and value != ""}
    names = set()
    for item in declared(cls):
        spec = item.spec
        sources = [item.name in present, _key(spec.flag or item.name) in present]
        sources += [bool(spec.env and env.get(spec.env)), bool(spec.file_env and env.get(spec.file_env))]
        sources.append(bool(spec.file_flag and _key(spec.file_flag) in present))
        if any(sources):
            names.add(item.name)
    return names


def check(instance: object, labels: Mapping[str, str] | None = None) -> None:
    """Raise `ConfigError` naming the first setting that is missing or wrong: by what gave it
    (`labels`, from `values_from`: `BATON_CA_BUNDLE` when the variable did), else by its flag."""
    for item in declared(type(instance)):
        value = getattr(instance, item.name)
        if item.spec.required and not value:
            others = [name for name in (item.spec.env, item.spec.file_flag, item.spec.file_env) if name]
            variable = f" (or {', '.join(others)})" if others else ""
            raise ConfigError(f"missing {item.label}{variable}")
        if value is not None and item.spec.check is not None:
            problem = item.spec.check(value)
            if problem:
                raise ConfigError(f"{(labels or {}).get(item.name, item.label)} {problem}")


def values_from_dlt(cls: type, section: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """The settings dlt's providers hold under `section` (`.dlt/*.toml`, `SECTION__KEY` variables).

    A secret is read through `dlt.secrets`, so dlt's run trace records it as `<secret>`; the
    others through `dlt.config`, which converts the text of a variable to the setting's type.
    """
    import dlt

    values: dict[str, Any] = {}
    for item in declared(cls):
        key = f"{section}.{item.dlt_key}"
        try:
            value = dlt.secrets.get(key) if item.spec.secret else dlt.config.get(key, item.type)
        except Exception as exc:  # dlt's coercion errors have no common base class
            kind = _KIND.get(item.type, item.type.__name__)
            raise ConfigError(f"[{section}] {item.dlt_key} must be {kind}: {exc}") from None
        if value is None or value == "":
            if item.spec.required:
                where = ".dlt/secrets.toml" if item.spec.secret else ".dlt/config.toml"
                variable = "__".join(part.upper() for part in key.split("."))
                raise ConfigError(f"missing [{section}] {item.dlt_key} in {where} (or {variable})")
            continue
        values[item.name] = item.parse(value, f"[{section}] {item.dlt_key}")
        if labels is not None:
            labels[item.name] = f"[{section}] {item.dlt_key}"
    return values


def defaults(cls: type) -> dict[str, Any]:
    return {item.name: item.default for item in declared(cls)}


# Checks, each phrased to follow the setting's flag: "--concurrency must be >= 1, got 0".
def at_least(minimum: float) -> Check:
    return lambda value: None if value >= minimum else f"must be >= {minimum:g}, got {value:g}"


def between(low: float, high: float) -> Check:
    return lambda value: (
        None if low <= value <= high else f"must be between {low:g} and {high:g}, got {value:g}"
    )


def positive(value: float) -> str | None:
    return None if value > 0 else f"must be > 0, got {value:g}"


def readable_file(value: str) -> str | None:
    return None if Path(value).is_file() else f"{value!r} is not a readable file"


def _unwrap_optional(hint: Any) -> tuple[type, bool]:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        members = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return members[0], True
    return hint, False


def _key(name: str) -> str:
    return name.lstrip("-").replace("-", "_")


def _read_secret_file(name: str, path: str) -> str:
    """The secret in `path`; an empty file is named as such, not reported as a missing --password."""
    try:
        with open(os.path.expanduser(path), encoding="utf-8") as handle:
            secret = handle.read().strip("\r\n")
    except OSError as exc:
        raise ConfigError(f"cannot read the {name} file {path!r}: {exc.strerror}") from None
    if not secret:
        raise ConfigError(f"the {name} file {path!r} is empty")
    return secret
