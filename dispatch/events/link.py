"""Events of the prefecture link: a county's CAP at the prefecture, instructions down, acknowledgements."""

from __future__ import annotations

from dataclasses import dataclass

from dispatch.events.base import DomainEvent


@dataclass(frozen=True, kw_only=True)
class CountyUpdateReceived(DomainEvent, type="county_update"):
    """At the prefecture: one CAP message of a county about the incident it opened here."""

    sender: str
    """The county (CAP `sender`)."""
    identifier: str
    """The CAP message's `identifier`."""
    msg_type: str
    """Alert, Update or Cancel."""
    county_incident_id: str
    """The county's own incident id (CAP `incidents`)."""
    county_state: str | None
    """The incident's state at the county (parameter `dispatch:state`)."""
    change: str | None
    """What changed at the county (parameter `dispatch:change`: an event type)."""
    sent_at: str
    """When the county sent it (CAP `sent`, RFC 3339)."""


@dataclass(frozen=True, kw_only=True)
class InstructionSent(DomainEvent, type="instruction_sent"):
    """At the prefecture: a dispatcher's instruction (指令) to the county that reported the incident."""

    identifier: str
    county: str
    county_incident_id: int
    text: str
    message_id: int | None
    """The outbound message carrying it (None: no outbox on this server)."""


@dataclass(frozen=True, kw_only=True)
class InstructionReceived(DomainEvent, type="instruction_received"):
    """At the county: an instruction of the prefecture about this incident; it rings until acknowledged."""

    identifier: str
    text: str
    sender: str
    """Who sent it (the prefecture's name, the body's `from`)."""
    sent_at: str
    """When the prefecture sent it (RFC 3339)."""
    needs_acknowledgement: bool = True


@dataclass(frozen=True, kw_only=True)
class InstructionAcknowledged(DomainEvent, type="instruction_acknowledged"):
    """Acknowledged by a county dispatcher: at the county when done, at the prefecture when told."""

    identifier: str
    """The instruction's identifier."""
    by: str
    """Who acknowledged it (the county dispatcher's name)."""
    at: str
    """When (RFC 3339)."""
    acknowledgement: str | None = None
    """At the prefecture: the acknowledgement message's identifier; at the county: its outbound identifier."""
