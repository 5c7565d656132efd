"""When each socket's waiting frames are written: at once if it was quiet, else once a tick.

A socket that got nothing for a tick (a tablet between its tasks, a console at night) has its
frames written at the end of the current loop turn, so everything one commit published still
goes in one write. A socket written less than a tick ago (a console while alerts pour in)
gathers its frames until its tick comes, so it costs one send() a tick however many events
there are. Each socket is judged by its own last write, not by the others': a busy console
never makes a tablet wait.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)

SLACK = 0.25
"""A busy socket due within this part of a tick is written with the tick already firing."""


class WriteTicks(Generic[K]):
    """Calls `write(key)` for each key that `wants` it, once per tick at most while it is busy.

    `write` returns whether it wrote anything: a key that could not be written (its peer is
    not reading, a replay holds it) stays quiet, and whoever writes it later calls `write_now`.
    """

    def __init__(
        self, write: Callable[[K], bool], interval: float, now: Callable[[], float] = time.monotonic
    ) -> None:
        self._write = write
        self.interval = interval
        self._now = now
        self._written: dict[K, float] = {}
        self._soon: dict[K, None] = {}
        self._later: dict[K, float] = {}
        """Busy keys → when their tick comes."""
        self._soon_handle: asyncio.Handle | None = None
        self._later_handle: asyncio.TimerHandle | None = None
        self._later_due = math.inf

    def wants(self, key: K) -> None:
        """`key` has frames waiting: written at the end of this loop turn, or on its tick if busy."""
        if key in self._soon or key in self._later:
            return
        now = self._now()
        due = self._written.get(key, -math.inf) + self.interval
        if due <= now:
            self._soon[key] = None
            if self._soon_handle is None:
                self._soon_handle = asyncio.get_running_loop().call_soon(self._write_soon)
            return
        self._later[key] = due
        if due < self._later_due:
            self._arm(due, now)

    def write_now(self, key: K) -> None:
        """Write what waits for `key` now (after a replay, once its peer reads again)."""
        self._soon.pop(key, None)
        self._later.pop(key, None)
        self._run(key, self._now())

    def forget(self, key: K) -> None:
        """`key` is gone (closed, dropped): nothing is written for it any more."""
        self._soon.pop(key, None)
        self._later.pop(key, None)
        self._written.pop(key, None)

    def _run(self, key: K, now: float) -> None:
        if self._write(key):
            self._written[key] = now

    def _write_soon(self) -> None:
        self._soon_handle = None
        keys, self._soon = self._soon, {}
        now = self._now()
        for key in keys:
            self._run(key, now)

    def _write_later(self) -> None:
        self._later_handle, self._later_due = None, math.inf
        now = self._now()
        cutoff = now + self.interval * SLACK
        due = [key for key, at in self._later.items() if at <= cutoff]
        for key in due:
            del self._later[key]
        if self._later:
            self._arm(min(self._later.values()), now)
        for key in due:
            self._run(key, now)

    def _arm(self, due: float, now: float) -> None:
        if self._later_handle is not None:
            self._later_handle.cancel()
        self._later_due = due
        self._later_handle = asyncio.get_running_loop().call_later(max(0.0, due - now), self._write_later)
