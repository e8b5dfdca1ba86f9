"""`baton-xmatters simulate`: serve a synthetic xMatters instance until interrupted."""

from __future__ import annotations

import argparse
import re
import shlex
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from pipelines.argument_parser import non_empty
from simulator.app import XmattersSimulator
from simulator.faults import Faults
from simulator.org import OrgSpec, build_org

_DEFAULTS = OrgSpec()
# Knobs whose default is capped by --people: a small tenant is not mostly people out of scope.
_AT_MOST_PEOPLE = ("large_group_size", "hidden_people")
# The scale knobs: each `OrgSpec` field is the option of the same name (`--members-per-group`), with
# the field's default. One table feeds both the parser and the spec, so a knob cannot be parsed and
# then not passed on. (field, type, help)
_ORG_OPTIONS: tuple[tuple[str, type, str | None], ...] = (
    ("people", int, "people returned by /people"),
    ("groups", int, "groups returned by /groups"),
    ("members_per_group", int, "average member items of a regular group"),
    ("inactive_share", float, "fraction of people with status INACTIVE"),
    (
        "hidden_people",
        int,
        f"group members that /people does not return (permission scope; default {_DEFAULTS.hidden_people}, "
        "or --people if fewer: no people, no hidden ones)",
    ),
    ("large_groups", int, "groups with --large-group-size members (several member pages)"),
    (
        "large_group_size",
        int,
        f"members of each large group (default {_DEFAULTS.large_group_size:,}, or --people if fewer; "
        "members beyond --people are hidden people)",
    ),
    ("seed", int, "seed of the synthetic organisation"),
    ("hostile_text", bool, "legal text C1 refuses as is: huge multi-byte names, blank names, RTL/controls"),
)


def add_simulate_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `simulate` options (scale knobs, port, latency, credentials) to `parser`."""
    parser.add_argument(
        "--host", type=non_empty, default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument("--port", type=_port, default=0, help="port to listen on (default 0: a free port)")
    for name, kind, help_text in _ORG_OPTIONS:
        option = "--" + name.replace("_", "-")
        if kind is bool:  # a switch
            parser.add_argument(option, action="store_true", default=getattr(_DEFAULTS, name), help=help_text)
            continue
        # None until `_spec` knows --people (the demo's rule)
        default = None if name in _AT_MOST_PEOPLE else getattr(_DEFAULTS, name)
        parser.add_argument(option, type=kind, default=default, help=help_text)
    parser.add_argument(
        "--latency-ms", type=_non_negative(float), default=0.0, help="time from each request to its answer"
    )
    parser.add_argument(
        "--rate-limit",
        type=_non_negative(int),
        default=0,
        metavar="N",
        help="answer 429 with Retry-After: 1 beyond N requests in any second (default 0: no limit)",
    )
    parser.add_argument(
        "--username", type=non_empty, default="sim-user", help="Basic auth user name to accept"
    )
    parser.add_argument(
        "--password", type=non_empty, default="sim-password", help="Basic auth password to accept"
    )


def run_simulate(args: argparse.Namespace, *, stop: threading.Event | None = None) -> int:
    """Build the org, serve it and block until SIGINT/SIGTERM (or `stop` is set).

    Returns 0 after a clean stop, 2 for invalid knobs, 1 when the port cannot be bound.
    """
    try:
        spec = _spec(args)
    except ValueError as exc:
        print(f"baton-xmatters: error: {named_by_option(exc)}", file=sys.stderr)
        return 2
    org = build_org(spec)
    org.encode_member_fragments()  # served as fast on the first sync as on the next ones
    stop = stop or threading.Event()
    simulator = XmattersSimulator(
        org,
        host=args.host,
        port=args.port,
        username=args.username,
        password=args.password,
        faults=Faults(latency_s=args.latency_ms / 1000, rate_limit=args.rate_limit),
    )
    try:
        simulator.start()
    except OSError as exc:
        print(f"baton-xmatters: error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    previous = _install_stop_handlers(stop)
    try:
        with simulator:
            counts = org.member_count_by_type()
            print(f"xMatters simulator listening on {simulator.base_url}")
            print(
                f"  {len(org.people)} people (+{len(org.hidden_people)} hidden), {len(org.groups)} groups, "
                f"{org.membership_rows()} member items ("
                + ", ".join(f"{n} {t}" for t, n in counts.items())
                + ")"
            )
            print(f"  user name + password:  {simulator.username} / {simulator.password}")
            print(f"  API key id + secret:   {simulator.api_key_id} / {simulator.api_key_secret}")
            print("To sync from it, paste into another shell:")
            print(export_lines(simulator.base_url, simulator.username, simulator.password))
            print(f"then run {_sync_command()} (or make ui, then Materialize all)")
            print("Press Ctrl+C to stop.", flush=True)
            while not stop.wait(0.5):
                pass
    finally:
        _restore_handlers(previous)
    print("xMatters simulator stopped.", flush=True)
    return 0


def named_by_option(exc: ValueError) -> str:
    """`OrgSpec`'s complaint about a knob, naming the option a user typed (`--people`), not the field."""
    return re.sub(r"OrgSpec\.(\w+)", lambda m: "--" + m.group(1).replace("_", "-"), str(exc))


def _spec(args: argparse.Namespace) -> OrgSpec:
    """The organisation the options describe. Without --large-group-size the large group is at most
    --people: `--people 200` once gave 200 people and 2,300 hidden ones (filling a 2,500 group).
    Without --hidden-people there are at most --people hidden ones: `--people 0` served 5 people
    (as members) in a tenant announced as having none."""
    knobs = {name: getattr(args, name) for name, _, _ in _ORG_OPTIONS}
    for name in _AT_MOST_PEOPLE:
        if knobs[name] is None:
            knobs[name] = min(getattr(_DEFAULTS, name), max(knobs["people"], 0))
    return OrgSpec(**knobs)


def _non_negative(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    """An argparse type: a number of `kind`, 0 or more (a negative latency or rate was accepted silently)."""

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        if not value >= 0:  # NaN too
            raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
        return value

    return parse


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a port number, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 0 and 65535, got {port}")
    return port


def export_lines(base_url: str, username: str, password: str) -> str:
    """`export BATON_...=` lines a user pastes as they are (values quoted for the shell)."""
    values = {"BATON_BASE_URL": base_url, "BATON_USERNAME": username, "BATON_PASSWORD": password}
    return "\n".join(f"export {name}={shlex.quote(value)}" for name, value in values.items())


def _sync_command() -> str:
    """The `baton-xmatters` beside this interpreter (the venv's), by full path: no venv to activate.

    The simulator imports nothing of the project's other packages, so not `orchestration.cli`'s twin.
    """
    script = Path(sys.executable).with_name("baton-xmatters")
    return shlex.quote(str(script)) if script.is_file() else "baton-xmatters"


def _install_stop_handlers(stop: threading.Event) -> dict[int, object]:
    """Make SIGINT/SIGTERM set `stop` (only possible from the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, handler)
    return previous


def _restore_handlers(previous: dict[int, object]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    add_simulate_arguments(parser)
    return run_simulate(parser.parse_args(argv))
