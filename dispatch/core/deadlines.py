"""The deadline scheduler: fires stored step deadlines on time, and at once after a restart."""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from dispatch.shared.clock import Clock
from dispatch.storage.writer import Tx, Writer

logger = logging.getLogger(__name__)

RETRY_AFTER_FAILURE_S = 5.0


class DeadlineSource(Protocol):
    """What the scheduler needs of the service: its writer, and the command that fires deadlines."""

    @property
    def writer(self) -> Writer: ...

    def fire_due_deadlines(self, tx: Tx) -> tuple[int, float | None]: ...


class DeadlineScheduler:
    """Deadlines live in the incident rows; this loop only decides when to look at them.

    Every committed transaction that stored a step deadline reports it (`moved`), whichever
    path stored it: intake, a manual escalate or delegate, a reassignment, a reopen.
    """

    def __init__(self, service: DeadlineSource, clock: Clock) -> None:
        self._service = service
        self._clock = clock
        self._wake = asyncio.Event()
        self._looking = False
        self.next_due: float | None = None
        self.fired = 0

    def moved(self, deadlines: list[float]) -> None:
        """Called after a commit that stored deadlines: wake when one is earlier than awaited.

        While a look is in flight its answer may predate this commit, so look again then.
        """
        earliest = min(deadlines)
        if self._looking or self.next_due is None or earliest < self.next_due:
            self.next_due = earliest if self.next_due is None else min(self.next_due, earliest)
            self._wake.set()

    async def run_once(self) -> int:
        """Fire what is due now; returns how many incidents' deadlines fired."""
        fired, following = await self._service.writer.submit(self._service.fire_due_deadlines)
        self.fired += fired
        self.next_due = following
        return fired

    async def run(self) -> None:
        while True:
            self._wake.clear()
            self._looking = True
            try:
                fired = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("firing deadlines failed; retrying in %ss", RETRY_AFTER_FAILURE_S)
                await asyncio.sleep(RETRY_AFTER_FAILURE_S)
                continue
            finally:
                self._looking = False
            if fired:
                logger.info("fired %d deadline(s)", fired)
                continue  # there may be more than one batch due
            if self.next_due is None:
                await self._wake.wait()
            else:
                await self._clock.sleep_until(self.next_due, self._wake)
