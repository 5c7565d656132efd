"""Events of alerts: received, updated in place, resolved or cancelled by their sender."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dispatch.events.base import DomainEvent


@dataclass(frozen=True, kw_only=True)
class AlertReceived(DomainEvent, type="alert_received"):
    alert_id: int
    source: str
    source_event_id: str
    kind: str
    category: str
    severity: int
    new_incident: bool
    alert_count: int


@dataclass(frozen=True, kw_only=True)
class AlertUpdated(DomainEvent, type="alert_updated"):
    """The sender told more of one alert (a higher score, a new zone, a clip): rewritten in place."""

    alert_id: int
    source: str
    source_event_id: str
    changes: dict[str, Any]
    """What changed that a dispatcher cares about: field → [before, after]."""


@dataclass(frozen=True, kw_only=True)
class AlertStatusChanged(DomainEvent):
    alert_id: int
    source: str
    source_event_id: str
    reason: str | None = None
    active_alerts: int
    """Alerts of the incident still neither resolved nor cancelled."""


@dataclass(frozen=True, kw_only=True)
class AlertResolved(AlertStatusChanged, type="alert_resolved"):
    """The sender says its condition is over (an Alertmanager `resolved`, a sensor clearing)."""


@dataclass(frozen=True, kw_only=True)
class AlertCancelled(AlertStatusChanged, type="alert_cancelled"):
    """The sender withdrew its alert (a CAP Cancel): it was issued in error or is void."""
