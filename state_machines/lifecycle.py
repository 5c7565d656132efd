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
    prepare: str | None = None
    """Plans the trigger (looks up and checks what it names) before anything is written."""

    def callbacks(self) -> set[str]:
        """Every method name this row asks the lifecycle model for."""
        names = {name for name in (self.prepare, self.after) if name}
        return names | set(self.conditions)

    def as_dict(self) -> dict[str, Any]:
        # Plain strings: `transitions` would name enum members by .name, not by value.
        row: dict[str, Any] = {
            "trigger": str(self.trigger),
            "source": [str(state) for state in self.source],
            "dest": None if self.dest is None else str(self.dest),
        }
        if self.prepare:
            row["prepare"] = self.prepare
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
        return {name for row in self.transitions for name in row.callbacks()}

    def triggers_from(self, state: str) -> list[str]:
        """Triggers the table allows from `state`, in table order, each once."""
        seen: dict[str, None] = {}
        for row in self.transitions:
            if state in row.source:
                seen.setdefault(row.trigger, None)
        return list(seen)
