"""The simulator's agenda: every delayed action (a tablet's accept, a reconnect, a progress line)."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Awaitable, Callable

from dispatch.simulate.clock import SimulationClock

Action = Callable[[], Awaitable[None]]


class Agenda:
    """One timeline for everything, so virtual time can step from one due action to the next."""

    def __init__(self, clock: SimulationClock) -> None:
        self.clock = clock
        self._heap: list[tuple[float, int, Action]] = []
        self._order = itertools.count()

    def at(self, when: float, action: Action) -> None:
        heapq.heappush(self._heap, (when, next(self._order), action))

    def after(self, seconds: float, action: Action) -> None:
        self.at(self.clock.now() + max(0.0, seconds), action)

    def next_time(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def due(self, now: float) -> list[Action]:
        found: list[Action] = []
        while self._heap and self._heap[0][0] <= now:
            found.append(heapq.heappop(self._heap)[2])
        return found

    def __len__(self) -> int:
        return len(self._heap)
