"""The CLI's interrupt watcher alone acts on Ctrl-C while the job runs in-process (sync_command)."""

from __future__ import annotations

import signal

import dagster as dg
from dagster._utils.interrupts import capture_interrupts, raise_interrupts_as

from orchestration.sync_command import signal_handlers_kept_from_dagster


def _ours(signum: int, frame: object) -> None:
    """Stands in for interrupts.py's handler that leaves the signal to the watcher thread."""


def test_dagster_leaves_the_sigint_handler_alone_inside_the_context() -> None:
    previous = signal.signal(signal.SIGINT, _ours)
    try:
        with signal_handlers_kept_from_dagster(), capture_interrupts():
            assert signal.getsignal(signal.SIGINT) is _ours
            with raise_interrupts_as(dg.DagsterExecutionInterruptedError):
                assert signal.getsignal(signal.SIGINT) is _ours
        # outside it, Dagster's own behaviour is back (the UI's and the service's runs)
        with capture_interrupts():
            assert signal.getsignal(signal.SIGINT) is not _ours
        assert signal.getsignal(signal.SIGINT) is _ours
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_run_in_process_keeps_the_handler_in_its_steps() -> None:
    seen: list[object] = []

    @dg.op
    def look() -> None:
        seen.append(signal.getsignal(signal.SIGINT))

    @dg.job
    def probe() -> None:
        look()

    previous = signal.signal(signal.SIGINT, _ours)
    try:
        with signal_handlers_kept_from_dagster():
            assert probe.execute_in_process().success
        assert probe.execute_in_process().success  # without it: Dagster's handler in the step
    finally:
        signal.signal(signal.SIGINT, previous)
    assert seen[0] is _ours
    assert seen[1] is not _ours
