"""Events of the outbox: a message to another server queued, delivered, or refused by it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dispatch.events.base import DomainEvent


@dataclass(frozen=True, kw_only=True)
class OutboundQueued(DomainEvent, type="outbound_queued"):
    """A message waits in the outbox, in the same transaction as the change that caused it."""

    message_id: int
    destination: str
    kind: str
    identifier: str
    summary: str


@dataclass(frozen=True, kw_only=True)
class OutboundDelivered(DomainEvent, type="outbound_delivered"):
    """The destination accepted the message (2xx); `receipt` is what it answered, trimmed."""

    message_id: int
    destination: str
    identifier: str
    attempts: int
    receipt: dict[str, Any] | None
    summary: str


@dataclass(frozen=True, kw_only=True)
class OutboundRefused(DomainEvent, type="outbound_refused"):
    """The destination refused the message for good (a 4xx other than 401/403/429): the next goes."""

    message_id: int
    destination: str
    identifier: str
    attempts: int
    error: str
    summary: str
