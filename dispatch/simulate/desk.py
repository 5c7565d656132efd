"""The duty desk, simulated: a dispatcher who resolves an incident once its unit reports the work done.

Only incidents of one-off events: an incident a gauge keeps reporting on (the water is still
high) stays open for the people at the console.
"""

from __future__ import annotations

import random

from dispatch.simulate import texts
from dispatch.simulate.agenda import Agenda
from dispatch.simulate.senders import HttpSender

RESOLVE_AFTER_S = (20.0, 60.0)
LASTING = frozenset({"water_level_warning", "embankment_seepage"})
"""Categories whose incidents outlast one visit: the water stays high after the patrol."""
CO_HANDLERS = {
    "waterlogging": ("flood_control", "积水需防汛部门排涝协办"),
    "embankment_seepage": ("fire", "管涌险情，请消防救援队伍协助抢险、转移群众"),
}
"""Departments the desk pulls into a new incident of these categories (协办), and why."""
PULL_IN_AFTER_S = (10.0, 30.0)


class Desk:
    def __init__(
        self,
        sender: HttpSender,
        token: str,
        agenda: Agenda,
        *,
        rate: float,
        seed: int,
    ) -> None:
        self.sender = sender
        self.token = token
        self.agenda = agenda
        self.rate = rate
        self._rng = random.Random(f"{seed}/desk")
        self._planned: set[int] = set()
        self._pulled: set[int] = set()

    def incident_seen(self, incident_id: int, category: str, departments: frozenset[str]) -> None:
        """A new incident: pull in the co-handling department its category calls for, once."""
        pulled = CO_HANDLERS.get(category)
        if pulled is None or pulled[0] not in departments or incident_id in self._pulled:
            return
        self._pulled.add(incident_id)
        department, reason = pulled

        async def add() -> None:
            path = f"/api/v1/incidents/{incident_id}/add_department"
            answer = await self.sender.post(path, {"department": department, "reason": reason}, self.token)
            if answer is None:
                return
            status, data = answer
            if status == 200:
                self.sender.tally.co_handling += 1
            elif status not in (404, 409, 422):  # merged, closed or the lead meanwhile: fine
                self.sender.refused(path, status, data)

        self.agenda.after(self._rng.uniform(*PULL_IN_AFTER_S) / self.rate, add)

    def task_done(self, incident_id: int, category: str) -> None:
        if incident_id in self._planned or category in LASTING:
            return
        self._planned.add(incident_id)
        summary = f"{self._rng.choice(texts.RESOLVE_SUMMARIES)}（{texts.completion_note(category, 0)}）"

        async def resolve() -> None:
            path = f"/api/v1/incidents/{incident_id}/resolve"
            answer = await self.sender.post(path, {"reason": summary}, self.token)
            if answer is None:
                return
            status, data = answer
            if status == 200:
                self.sender.tally.resolved += 1
            elif status not in (404, 409):  # someone at the console was quicker: fine
                self.sender.refused(path, status, data)

        self.agenda.after(self._rng.uniform(*RESOLVE_AFTER_S) / self.rate, resolve)
