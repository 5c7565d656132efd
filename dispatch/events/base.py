"""The domain event's envelope and the registry of event types by their log name."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

EVENT_TYPES: dict[str, type[DomainEvent]] = {}
_PAYLOAD_FIELDS: dict[type[DomainEvent], tuple[str, ...]] = {}


@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    """Base of all events. `seq` is given by the event log when the event is recorded."""

    type: ClassVar[str] = ""
    occurred_at: float
    """UTC epoch seconds."""
    actor: str
    causation_id: str | None = None
    incident_id: int | None = None
    task_id: int | None = None
    seq: int = 0

    def __init_subclass__(cls, type: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if type:
            cls.type = type
            EVENT_TYPES[type] = cls

    def payload(self) -> dict[str, Any]:
        """The event's own fields (not the envelope), as the log stores them."""
        names = _PAYLOAD_FIELDS.get(type(self))
        if names is None:
            base = {"occurred_at", "actor", "causation_id", "incident_id", "task_id", "seq"}
            names = tuple(f.name for f in dataclasses.fields(self) if f.name not in base)
            _PAYLOAD_FIELDS[type(self)] = names
        return {name: getattr(self, name) for name in names}
