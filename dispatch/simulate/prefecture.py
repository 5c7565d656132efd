"""The prefecture's duty desk, simulated: it watches what the counties send up and instructs.

Given the prefecture's address and a dispatcher token of its own (`dispatch simulate
--prefecture URL`), the desk looks at the prefecture's open incidents every few seconds, and
sends each severity I/II incident of a flood category that came up from a county one
instruction (指令) back down (`POST /api/v1/incidents/{id}/instruct`). The county's console
rings until a person there acknowledges it, and the prefecture sees the acknowledgement.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from dispatch.simulate.agenda import Agenda
from dispatch.simulate.senders import HttpSender

LOOK_EVERY_S = 5.0
"""How often (at rate 1) the desk reads the prefecture's open incidents."""
THINK_S = (8.0, 20.0)
"""How long the prefecture's dispatcher reads a county's report before instructing."""
INSTRUCTED = {
    "embankment_seepage": (
        "请立即组织抢险队伍上堤，按“反滤导渗、控制涌水”处置管涌；转移堤后危险区群众；"
        "险情每30分钟向市防汛抗旱指挥部报告一次。"
    ),
    "water_level_warning": (
        "请加密巡堤查险，落实24小时值守；超保证水位堤段提前转移低洼区群众，随时报告水情。"
    ),
}
"""What the prefecture says, per category of the county's incident (flood categories only)."""


class PrefectureDesk:
    def __init__(
        self,
        sender: HttpSender,
        token: str | Callable[[], str | None],
        agenda: Agenda,
        *,
        rate: float,
        seed: int,
    ) -> None:
        self.sender = sender
        self._token = token
        self.agenda = agenda
        self.rate = rate
        self._rng = random.Random(f"{seed}/prefecture")
        self._seen: set[int] = set()
        self.instructed: list[int] = []
        """Prefecture incident ids instructed, in order."""

    def start(self) -> None:
        self.agenda.after(LOOK_EVERY_S / self.rate, self.look)

    @property
    def token(self) -> str | None:
        """A demo's prefecture may start after the county: its token is read until it is there."""
        return self._token if isinstance(self._token, str) else self._token()

    async def look(self) -> None:
        try:
            token = self.token
            if token is None:
                return
            answer = await self.sender.get("/api/v1/incidents?severity=2&limit=50", token)
            if answer is None:
                return
            status, data = answer
            if status != 200 or not isinstance(data, dict):
                self.sender.refused("/api/v1/incidents", status, data)
                return
            for incident in data.get("incidents", []):
                self._consider(incident)
        finally:
            self.agenda.after(LOOK_EVERY_S / self.rate, self.look)

    def _consider(self, incident: dict[str, object]) -> None:
        incident_id, category = incident.get("id"), incident.get("category")
        if not isinstance(incident_id, int) or incident_id in self._seen or category not in INSTRUCTED:
            return
        if incident.get("state") in ("resolved", "closed", "cancelled", "merged"):
            return
        self._seen.add(incident_id)
        text = INSTRUCTED[str(category)]

        async def instruct() -> None:
            path = f"/api/v1/incidents/{incident_id}/instruct"
            answer = await self.sender.post(path, {"text": text}, self.token or "")
            if answer is None:
                return
            status, data = answer
            if status in (200, 201, 202):
                self.instructed.append(incident_id)
                self.sender.tally.instructions += 1
            elif status != 409:  # not from a county (the prefecture's own): nothing to instruct
                self.sender.refused(path, status, data)

        self.agenda.after(self._rng.uniform(*THINK_S) / self.rate, instruct)
