"""Time, injectable: the system clock in production, a manual one in tests."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """UTC epoch seconds."""

    async def sleep_until(self, deadline: float, wake: asyncio.Event) -> None:
        """Return at `deadline`, or earlier when `wake` is set."""


class SystemClock:
    def now(self) -> float:
        return time.time()

    async def sleep_until(self, deadline: float, wake: asyncio.Event) -> None:
        delay = max(0.0, deadline - time.time())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=min(delay, 3600.0))


class ManualClock:
    """A clock that moves only when told to; sleepers wake when it passes their deadline."""

    def __init__(self, start: float = 1_790_000_000.0) -> None:
        self._now = start
        self._moved = asyncio.Event()

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds
        self._moved.set()
        self._moved = asyncio.Event()

    async def sleep_until(self, deadline: float, wake: asyncio.Event) -> None:
        while self._now < deadline and not wake.is_set():
            moved = asyncio.ensure_future(self._moved.wait())
            woken = asyncio.ensure_future(wake.wait())
            await asyncio.wait({moved, woken}, return_when=asyncio.FIRST_COMPLETED)
            moved.cancel()
            woken.cancel()


def to_rfc3339(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
