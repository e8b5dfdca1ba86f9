"""The member calls started before the run: the CLI's head start on the network.

Why: a CLI sync spends ~1.5 s importing Dagster and dlt and building the run before its raw step
starts, and at 20 ms a request the ~2,000 member calls of a 2,000-group tenant take ~5 s after
that (docs/benchmarks.md, eleventh round). `EarlyMembers` starts the member-call process as soon as
the flags and the source are checked, lists `/groups` on a thread of this process and offers each
page to the child as it arrives (`MemberProcess.offer_pages`, as the raw step does); the
child's answer waits in its bounded reply queue (`member_worker.QueuedReplies`) until the raw step
reads it.

One listing feeds both sides: the raw step's `groups` resource takes its pages from `pages()`
instead of listing again, so the groups loaded and the groups whose members were read are the same
set. An error of the listing is raised there, where the listing would have raised it.

The hand-over is this module's one slot (`hand_over`, `take`): only the CLI fills it, so runs
launched from the UI, a schedule or a test start their member-call process in the raw step as
before. A slot not taken (a run that failed before its raw step) is stopped by the CLI.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from pipelines.xmatters.client import XmattersClient
from pipelines.xmatters.config import XmattersConfig
from pipelines.xmatters.errors import XmattersError
from pipelines.xmatters.member_calls import CANCEL_POLL_S, MemberProcess
from pipelines.xmatters.report import ExtractReport

logger = logging.getLogger(__name__)

_Page = list[dict[str, Any]]

# The early child runs at a lower priority than the sync: during start-up the sync's imports, this
# child and the simulator or proxy compete for two cores, and at equal priority the imports took
# ~0.8 s longer (M: start-up 1.6 -> 2.4 s), eating most of the head start. At nice 5 the child takes
# the other core's time from the GX worker's import (nice 10) instead. Measured in the eleventh
# round (docs/benchmarks.md): M at 20 ms 7.46 -> 6.74 s at equal priority, 6.35 s at nice 5.
NICENESS = 5
EARLY_START_LINE = "extract: listing groups and calling members of"


class EarlyMembers:
    """A started member-call process with `/groups` listed and offered to it on a thread."""

    def __init__(self, config: XmattersConfig) -> None:
        self.config = config.validate()
        self.process = MemberProcess(config, niceness=NICENESS)
        self._client = XmattersClient(config, ExtractReport())
        self._pages: queue.SimpleQueue[_Page | BaseException | None] = queue.SimpleQueue()
        self._taken = False
        self._thread = threading.Thread(target=self._list, name="early-groups", daemon=True)
        self._thread.start()

    def _list(self) -> None:
        try:
            for page in self.process.offer_pages(self._client.group_pages()):
                self._pages.put(page)
            self._pages.put(None)
        except BaseException as exc:  # noqa: BLE001 - raised where the raw step reads the listing
            self._pages.put(exc)
        finally:
            self._client.close()

    def pages(self, client: XmattersClient) -> Iterator[_Page]:
        """The `/groups` pages for the raw step's `client`, as they arrive; the listing's error is
        raised after the pages before it, its requests are added to `client.report` once it ended,
        and a cancelled `client` (another resource failed) cancels it. Read once."""
        if self._taken:
            raise RuntimeError("the early /groups listing was already read")
        self._taken = True
        try:
            while True:
                try:
                    page = self._pages.get(timeout=CANCEL_POLL_S)
                except queue.Empty:
                    if client.cancelled:
                        self._client.cancel()  # its next request raises: the listing ends
                    continue
                if page is None:
                    return
                if isinstance(page, BaseException):
                    raise page
                yield page
        finally:
            self._thread.join()
            client.report.add_counts(self._client.report.counts())

    def stop(self) -> None:
        """Ends the listing (its next request raises) and the child."""
        self._client.cancel()
        self.process.stop()


_slot: EarlyMembers | None = None
_slot_lock = threading.Lock()


def hand_over(early: EarlyMembers | None) -> None:
    """Puts `early` where the raw step of this process's next run takes it (None empties the slot)."""
    global _slot
    with _slot_lock:
        _slot = early


def take(config: XmattersConfig) -> EarlyMembers | None:
    """The member calls handed over for `config`, once; one started for other settings is stopped."""
    global _slot
    with _slot_lock:
        early, _slot = _slot, None
    if early is not None and early.config != config.validate():
        early.stop()
        return None
    return early


@contextmanager
def started(config: XmattersConfig) -> Iterator[None]:
    """Within the block, member calls for `config` are under way and handed over; at its end the
    slot is emptied and the child stopped (a no-op when the raw step took and ended it).

    A child that cannot start is no error here: the raw step starts its own, and reports why not.
    """
    try:
        early: EarlyMembers | None = EarlyMembers(config)
    except (XmattersError, OSError) as exc:
        logger.debug("member calls not started before the run: %s", exc)
        early = None
    else:  # bench/run.py times the extract from this line (its network work starts here)
        logger.info("%s %s while the run starts", EARLY_START_LINE, config.base_url)
    hand_over(early)
    try:
        yield
    finally:
        hand_over(None)
        if early is not None:
            with suppress(OSError):
                early.stop()
