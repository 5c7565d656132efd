"""Time for the simulator, injectable: the wall clock for real runs, stepped virtual time for tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from dispatch.shared.clock import ManualClock


class SimulationClock(Protocol):
    def now(self) -> float:
        """UTC epoch seconds."""

    async def sleep(self, seconds: float) -> None:
        """Let `seconds` pass."""


class WallClock:
    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class SteppedClock:
    """Virtual time: a sleep moves a ManualClock on at once, so ten simulated minutes take a second.

    The simulator is the only one sleeping on it (everything it does waits on one agenda), so
    time never moves while one of its requests is still out. `on_advance` runs after each step:
    a test's server fires the deadlines that have passed.
    """

    def __init__(self, clock: ManualClock, on_advance: Callable[[], Awaitable[object]] | None = None) -> None:
        self.clock = clock
        self.on_advance = on_advance

    def now(self) -> float:
        return self.clock.now()

    async def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.clock.advance(seconds)
        if self.on_advance is not None:
            await self.on_advance()
        await asyncio.sleep(0)  # a turn of the loop for frames already on their way
