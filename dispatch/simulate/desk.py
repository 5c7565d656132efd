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
