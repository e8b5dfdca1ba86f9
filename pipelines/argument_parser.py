"""argparse with the family's one-line errors, for every command line of the project.

Here, not in `orchestration/cli.py`, because `python -m pipelines.xmatters_pipeline` (the raw
layer alone) parses its flags the same way and pipelines never import orchestration.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from typing import Any, NoReturn


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse with one-line errors: `baton-xmatters: error: ...`, exit 2, no usage block.

    A mistyped flag gets a "did you mean"; the words argparse could not place are not echoed (after
    `--pasword` comes the password itself); a stray word where the command takes `-f FILE` gets
    that hint. `command` is the name the line starts with
    (`baton-xmatters`, the default, or `xmatters_pipeline`); `prog` is the one `--help` is for.
    Flags are taken whole, never by a prefix (`--base-ur`, `--conc`): baton's flags (Go's pflag)
    have no abbreviations, and a script written against this CLI must run against the connector.
    """

    def __init__(self, *args: Any, command: str = "baton-xmatters", **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        self.command = command

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        self._words = list(sys.argv[1:] if args is None else args)  # what `error` may have to explain
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.command}: error: {self._explained(message)} (see {self.prog} --help)\n")

    def _explained(self, message: str) -> str:
        if (placed := self._placed_after_an_unknown_flag(message)) is not None:
            message = placed
        prefix = "unrecognized arguments: "
        if not message.startswith(prefix):
            return message
        words = message[len(prefix) :].split()
        flags = [word.split("=", 1)[0] for word in words if word.startswith("-")]
        others = len(words) - len(flags)
        hidden = f"{others} {'word' if others == 1 else 'words'} (not shown)"
        if not flags:
            # the usual stray word is a path typed where baton's commands take `-f FILE`
            hint = "; name the file with -f FILE" if "-f" in self._option_string_actions else ""
            return f"unrecognized: {hidden}{hint}"
        text = f"unrecognized {'argument' if len(flags) == 1 else 'arguments'} {' '.join(flags)}"
        if others:
            text += f" and {hidden}"
        known = [option for option in self._option_string_actions if option.startswith("--")]
        for flag in flags:
            close = difflib.get_close_matches(flag, known, n=1, cutoff=0.6)
            if close:
                return f"{text}; did you mean {close[0]}?"
        return text

    def _placed_after_an_unknown_flag(self, message: str) -> str | None:
        """`inspect --pasword hunter2 stats`: argparse puts the word after the unknown flag in the
        positional `command` and refuses it by name ("invalid choice: 'hunter2'"), before it would
        report the flag. Told as that flag and a word not shown instead."""
        choice = re.match(r"argument [^:]+: invalid choice: '(.*)' \(choose from ", message, flags=re.S)
        words = getattr(self, "_words", [])
        if choice is None or choice.group(1) not in words:
            return None
        at = words.index(choice.group(1))
        before = words[at - 1] if at > 0 else ""
        if not before.startswith("-") or "=" in before or before in self._option_string_actions:
            return None
        return f"unrecognized arguments: {before} {choice.group(1)}"


def non_empty(text: str) -> str:
    """An argparse `type` for an option that is not a setting (`--warehouse`, `inspect -f`,
    `demo --home`, `simulate --host`): refuses `""`, and a value of only whitespace.

    An empty value (a shell variable that was not set) would otherwise mean the default, which
    the command line seemed to override (`demo --home ""` wrote into the working directory,
    `simulate --host ""` listened on every interface): the rule `values_from` applies to settings.
    """
    if not text.strip():  # blank as empty: `--warehouse " "` made a warehouse file named " "
        blank = "empty" if not text else "blank"
        raise argparse.ArgumentTypeError(f"is {blank} (leave it out to use the default)")
    return text
