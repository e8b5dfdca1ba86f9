"""How much the CLI logs and in which form: baton-sdk's `--log-level` and `--log-format`.

Go connectors take both from a flag or its variable (`BATON_LOG_LEVEL`, `BATON_LOG_FORMAT`), with
zap's level names (`warn`, any case) and two formats, `console` and `json` (one object per line,
what a log collector in front of a container parses). A deployment moved over from C1's Go
connector keeps its settings: `BATON_LOG_LEVEL=warn` and `--log-format json` were refused or
ignored here. The default format stays `console` (baton-sdk picks `json` when stdout is not a
terminal): the CLI's own output, tests and docs show it.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Mapping

from pipelines.xmatters.errors import ConfigError

LEVELS = ("debug", "info", "warn", "warning", "error")
FORMATS = ("console", "json")
DEFAULT_LEVEL = "info"
DEFAULT_FORMAT = "console"
LEVEL_VARIABLE = "BATON_LOG_LEVEL"
FORMAT_VARIABLE = "BATON_LOG_FORMAT"
_ZAP_LEVELS = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warn", logging.ERROR: "error"}


def _word(text: str) -> str:
    return text.strip().lower()


def add_log_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log-level",
        type=_word,
        choices=LEVELS,
        default=None,
        help=f"debug, info, warn (or warning), error (default {DEFAULT_LEVEL}; ${LEVEL_VARIABLE})",
    )
    parser.add_argument(
        "--log-format",
        type=_word,
        choices=FORMATS,
        default=None,
        help=f"console (default): one line per record; json: one JSON object per line (${FORMAT_VARIABLE})",
    )


def resolve(options: argparse.Namespace, env: Mapping[str, str]) -> None:
    """Fills `log_level` and `log_format` in `options`: the flag, else its variable, else the default.

    A variable set to what is not a level or format is refused naming it (ConfigError), as the other
    BATON_* variables; an empty one counts as unset.
    """
    for attribute, variable, allowed, default in (
        ("log_level", LEVEL_VARIABLE, LEVELS, DEFAULT_LEVEL),
        ("log_format", FORMAT_VARIABLE, FORMATS, DEFAULT_FORMAT),
    ):
        if getattr(options, attribute, None):
            continue
        value = _word(env.get(variable) or "") or default
        if value not in allowed:
            raise ConfigError(f"{variable} {env[variable]!r} is not one of {', '.join(allowed)}")
        setattr(options, attribute, value)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with zap's keys (`level`, `ts`, `logger`, `msg`) and level names.

    ASCII only: names from xMatters are data, and escaped they cannot move a terminal's cursor.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "level": _ZAP_LEVELS.get(record.levelno, record.levelname.lower()),
            "ts": record.created,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry)
