"""Who is calling: a role, a name, the jurisdiction subtree and department it acts for, whom it speaks for."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dispatch.access.binding import Binding


class Role(StrEnum):
    ADMIN = "admin"
    DISPATCHER = "dispatcher"
    RESPONDER = "responder"
    GATEWAY = "gateway"
    SCREEN = "screen"
    """The command hall's big screen: reads the overview, changes nothing."""
    SYSTEM = "system"
    """The server's own hands (deadlines, delivery bookkeeping); never given a token."""


@dataclass(frozen=True)
class Principal:
    role: Role
    name: str
    jurisdiction_id: str | None = None
    responder_id: str | None = None
    binding: Binding | None = None
    """A gateway token's sources and CAP senders; None: unbound (dispatch/access/speaks_for.py)."""
    department_id: str | None = None
    """A dispatcher of a department's sub-center (城管, 防汛 …): it sees the incidents its department
    leads or co-handles and works its department's tasks (dispatch/access/authz.py); None: the city's."""

    @property
    def actor(self) -> str:
        return f"{self.role}:{self.name}"
