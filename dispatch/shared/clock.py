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


_FIRST = "0001-01-01T00:00:00.000Z"
_LAST = "9999-12-31T23:59:59.999Z"


def to_rfc3339(epoch: float | None) -> str | None:
    """Epoch seconds as RFC 3339 UTC. Total: whatever a row holds, a read never fails on it.

    A time beyond what RFC 3339 can write shows as its first or last instant (0001-01-01,
    9999-12-31); one that is no number at all (NaN, text in an SQLite column) as the first.
    """
    if epoch is None:
        return None
    try:
        moment = datetime.fromtimestamp(float(epoch), UTC)
    except (OverflowError, OSError, ValueError, TypeError):
        try:
            return _LAST if float(epoch) > 0 else _FIRST
        except (TypeError, ValueError):
            return _FIRST
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
