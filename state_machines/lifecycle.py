"""A lifecycle: states, an initial state and a transition table, in the form `transitions` takes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


@dataclass(frozen=True)
class Transition:
    """One row of a table: `trigger` moves `source` states to `dest` (None keeps the state)."""

    trigger: str
    source: tuple[str, ...]
    dest: str | None
    after: str | None = None
    conditions: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        # Plain strings: `transitions` would name enum members by .name, not by value.
        row: dict[str, Any] = {
            "trigger": str(self.trigger),
            "source": [str(state) for state in self.source],
            "dest": None if self.dest is None else str(self.dest),
        }
        if self.after:
            row["after"] = self.after
        if self.conditions:
            row["conditions"] = list(self.conditions)
        return row


@dataclass(frozen=True)
class Lifecycle:
    name: str
    states: type[StrEnum]
    initial: StrEnum
    transitions: tuple[Transition, ...]
    terminal: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        sources = {state for row in self.transitions for state in row.source}
        object.__setattr__(
            self, "terminal", frozenset(s.value for s in self.states if s.value not in sources)
        )

    def table(self) -> list[dict[str, Any]]:
        return [row.as_dict() for row in self.transitions]

    def callbacks(self) -> set[str]:
        names = {row.after for row in self.transitions if row.after}
        return names | {c for row in self.transitions for c in row.conditions}

    def triggers_from(self, state: str) -> list[str]:
        """Triggers the table allows from `state`, in table order, each once."""
        seen: dict[str, None] = {}
        for row in self.transitions:
            if state in row.source:
                seen.setdefault(row.trigger, None)
        return list(seen)
