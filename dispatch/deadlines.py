"""The deadline scheduler: fires stored step deadlines on time, and at once after a restart."""

from __future__ import annotations

import asyncio
import logging

from dispatch.clock import Clock
from dispatch.events import DomainEvent, TaskAssigned
from dispatch.service import DispatchService

logger = logging.getLogger(__name__)

RETRY_AFTER_FAILURE_S = 5.0


class DeadlineScheduler:
    """Deadlines live in the incident rows; this loop only decides when to look at them."""

    def __init__(self, service: DispatchService, clock: Clock) -> None:
        self._service = service
        self._clock = clock
        self._wake = asyncio.Event()
        self.next_due: float | None = None
        self.fired = 0

    def notice(self, events: list[DomainEvent]) -> None:
        """Called after each commit: an earlier deadline than the one awaited wakes the loop."""
        for event in events:
            due = event.accept_deadline_at if isinstance(event, TaskAssigned) else None
            if due is not None and (self.next_due is None or due < self.next_due):
                self.next_due = due
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
            try:
                fired = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("firing deadlines failed; retrying in %ss", RETRY_AFTER_FAILURE_S)
                await asyncio.sleep(RETRY_AFTER_FAILURE_S)
                continue
            if fired:
                logger.info("fired %d deadline(s)", fired)
                continue  # there may be more than one batch due
            if self.next_due is None:
                await self._wake.wait()
            else:
                await self._clock.sleep_until(self.next_due, self._wake)
