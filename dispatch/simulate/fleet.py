"""What every virtual tablet shares: the people's habits, the server, the agenda, pace and counts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

from dispatch.simulate.agenda import Agenda
from dispatch.simulate.places import Point
from dispatch.simulate.tally import Tally


@dataclass(frozen=True)
class Habits:
    """How the people behind the tablets act, in seconds at rate 1."""

    never_answer: float = 0.15
    decline: float = 0.05
    accept_median_s: float = 15.0
    accept_spread: float = 0.6
    """Sigma of the lognormal accept delay."""
    receipt_s: tuple[float, float] = (0.3, 2.0)
    depart_s: tuple[float, float] = (3.0, 10.0)
    travel_s: tuple[float, float] = (30.0, 90.0)
    position_every_s: float = 4.0
    on_scene_s: tuple[float, float] = (45.0, 150.0)
    idle_every_s: tuple[float, float] = (45.0, 90.0)


@dataclass
class TaskCard:
    """A task as its tablet knows it."""

    id: int
    incident_id: int
    category: str
    target: Point | None
    deadline: float | None
    state: str = "pending"
    planned: bool = False
    """An action for it waits on the agenda."""


@dataclass
class Fleet:
    """What every tablet shares: the server, the agenda, the pace, the counts."""

    session: aiohttp.ClientSession
    ws_url: str
    agenda: Agenda
    rate: float
    seed: int
    tally: Tally
    habits: Habits = field(default_factory=Habits)
    on_done: Callable[[int, str], None] | None = None
    """Told (incident id, category) when a tablet completes a task: the duty desk's cue."""
    stopping: bool = False

    def scaled(self, seconds: float) -> float:
        return seconds / self.rate
