"""Alert status after intake: a sender updates, resolves or withdraws (cancels) its alert.

Each runs as a writer command: the alert row, its timeline event and any incident transition
they cause are one transaction. An update rewrites the alert's attributes in place (a camera
that now has a clip of the object) and changes no state. An alert is *active* until it is
resolved or cancelled; an incident whose last active alert is resolved resolves by itself when
its policy says `auto_resolve`, and one whose every alert was withdrawn is cancelled.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from dispatch.access.auth import Principal, Role
from dispatch.config.model import Config
from dispatch.core.escalation import Escalation
from dispatch.events.catalog import AlertCancelled, AlertResolved, AlertUpdated
from dispatch.intake.alerts import AlertKind
from dispatch.intake.pipeline import alert_key
from dispatch.shared.errors import DepartmentPartOpen
from dispatch.storage import repository
from dispatch.storage.records import Alert, Incident
from dispatch.storage.tables import alert_table
from dispatch.storage.writer import Tx
from state_machines import INCIDENT, IncidentTrigger

SYSTEM = Principal(Role.SYSTEM, "alerts")
ALL_RESOLVED = "all alerts resolved"
ALL_CANCELLED = "every alert was cancelled by its sender"

SUPERSEDES = "supersedes"
"""Attribute of an alert listing the [source, source_event_id] pairs it replaces (a CAP Update):
cancelling it cancels them too, when they are alerts of the same source and kind."""

_by_key = sa.select(alert_table).where(alert_table.c.key.in_(sa.bindparam("keys", expanding=True)))
_active_of = (
    sa.select(sa.func.count())
    .select_from(alert_table)
    .where(
        alert_table.c.incident_id == sa.bindparam("incident_id"),
        alert_table.c.resolved_at.is_(None),
        alert_table.c.cancelled_at.is_(None),
    )
)


@dataclass(frozen=True)
class AlertStatusChange:
    """What a resolve or cancel did to one alert and its incident."""

    alert_id: int
    incident_id: int
    changed: bool
    """False: the alert was resolved or cancelled already (a repeat changes nothing)."""
    incident_state: str
    key: tuple[str, str] | None = field(default=None, compare=False)
    """The alert's (source, source_event_id)."""


@dataclass(frozen=True)
class AlertUpdate:
    """What an update did to one alert: the changes written (none: nothing was) and its attributes now."""

    alert_id: int
    incident_id: int
    changes: dict[str, Any]
    attributes: dict[str, Any]


class AlertStatus:
    def __init__(self, config: Config, escalation: Escalation) -> None:
        self.config = config
        self.escalation = escalation

    def resolve(
        self,
        tx: Tx,
        source: str,
        source_event_id: str,
        *,
        actor: str,
        reason: str | None,
        causation_id: str | None,
        kind: AlertKind | None = None,
    ) -> AlertStatusChange | None:
        """None when no such alert (of `kind`, if given) was ever received.

        Its sender may resolve what we never saw; an alert of another kind under the same key
        (a sensor posting as an Alertmanager receiver) is never touched.
        """
        alerts = self._alerts(tx, [(source, source_event_id)], kind)
        if not alerts:
            return None
        alert = alerts[0]
        key = (alert.source, alert.source_event_id)
        incident = repository.incident(tx.connection, alert.incident_id)
        if alert.ended:
            return AlertStatusChange(alert.id, incident.id, False, incident.state, key)
        repository.update(tx.connection, alert_table, alert, resolved_at=tx.now)
        active = self._active(tx, incident.id)
        tx.record(
            AlertResolved(
                occurred_at=tx.now,
                actor=actor,
                causation_id=causation_id,
                incident_id=incident.id,
                alert_id=alert.id,
                source=alert.source,
                source_event_id=alert.source_event_id,
                reason=reason,
                active_alerts=active,
            )
        )
        # The snapshot taken when the incident opened decides (STYLE 12), not today's config.yaml.
        auto_resolve = bool(incident.policy.auto_resolve)
        if active == 0 and auto_resolve and self._may(incident, IncidentTrigger.RESOLVE):
            # A co-handler's part still open keeps it open (refused while planning: nothing
            # written); the sender's resolve stands, and a dispatcher resolves the incident later.
            with contextlib.suppress(DepartmentPartOpen):
                self.escalation.trigger_incident(
                    tx,
                    incident,
                    IncidentTrigger.RESOLVE,
                    actor=SYSTEM.actor,
                    causation_id=causation_id,
                    reason=ALL_RESOLVED,
                )
        return AlertStatusChange(alert.id, incident.id, True, incident.state, key)

    def update(
        self,
        tx: Tx,
        source: str,
        source_event_id: str,
        attributes: dict[str, Any],
        changes: Callable[[Mapping[str, Any]], dict[str, Any]],
        *,
        actor: str,
        causation_id: str | None,
        columns: Mapping[str, Any] | None = None,
        kind: AlertKind | None = None,
    ) -> AlertUpdate | None:
        """Rewrite the alert's attributes (and `columns`) when `changes` of the stored ones finds something.

        None when no such alert was ever received. The sender's gateway judges what matters;
        an empty judgement writes nothing, so a flood of repeats leaves no trace. `columns`
        are other fields the sender now knows better (a hotline call's entry after its
        telephony events: category, place, description). With `kind`, an alert of another kind
        under the same key is never touched (None, as if never received).
        """
        alerts = self._alerts(tx, [(source, source_event_id)], kind)
        if not alerts:
            return None
        alert = alerts[0]
        found = changes(alert.attributes)
        if not found:
            return AlertUpdate(alert.id, alert.incident_id, {}, alert.attributes)
        repository.update(tx.connection, alert_table, alert, **{**(columns or {}), "attributes": attributes})
        tx.record(
            AlertUpdated(
                occurred_at=tx.now,
                actor=actor,
                causation_id=causation_id,
                incident_id=alert.incident_id,
                alert_id=alert.id,
                source=alert.source,
                source_event_id=alert.source_event_id,
                changes=found,
            )
        )
        return AlertUpdate(alert.id, alert.incident_id, found, attributes)

    def cancel(
        self,
        tx: Tx,
        keys: Sequence[tuple[str, str]],
        *,
        actor: str,
        reason: str | None,
        causation_id: str | None,
        kind: AlertKind | None = None,
    ) -> list[AlertStatusChange]:
        """Withdraw the alerts and those they superseded; an incident left with none is cancelled.

        With `kind`, only alerts of that kind are touched (a CAP Cancel withdraws CAP alerts only).
        """
        alerts = self._with_superseded(tx, keys, kind)
        results: list[AlertStatusChange] = []
        touched: dict[int, Incident] = {}
        for alert in alerts:
            incident = touched.get(alert.incident_id) or repository.incident(tx.connection, alert.incident_id)
            touched[incident.id] = incident
            key = (alert.source, alert.source_event_id)
            if alert.ended:
                results.append(AlertStatusChange(alert.id, incident.id, False, incident.state, key))
                continue
            repository.update(tx.connection, alert_table, alert, cancelled_at=tx.now)
            tx.record(
                AlertCancelled(
                    occurred_at=tx.now,
                    actor=actor,
                    causation_id=causation_id,
                    incident_id=incident.id,
                    alert_id=alert.id,
                    source=alert.source,
                    source_event_id=alert.source_event_id,
                    reason=reason,
                    active_alerts=self._active(tx, incident.id),
                )
            )
            results.append(AlertStatusChange(alert.id, incident.id, True, incident.state, key))
        for incident in touched.values():
            if self._active(tx, incident.id) == 0 and self._may(incident, IncidentTrigger.CANCEL):
                self.escalation.trigger_incident(
                    tx,
                    incident,
                    IncidentTrigger.CANCEL,
                    actor=SYSTEM.actor,
                    causation_id=causation_id,
                    reason=reason or ALL_CANCELLED,
                )
        return [
            AlertStatusChange(
                each.alert_id, each.incident_id, each.changed, touched[each.incident_id].state, each.key
            )
            for each in results
        ]

    # Helpers ----------------------------------------------------------------------------------

    def _alerts(self, tx: Tx, keys: Iterable[tuple[str, str]], kind: AlertKind | None = None) -> list[Alert]:
        texts = [alert_key(*key) for key in keys]
        if not texts:
            return []
        rows = {
            row["key"]: Alert.from_row(row)
            for row in tx.connection.execute(_by_key, {"keys": texts}).mappings()
            if kind is None or row["kind"] == kind
        }
        return [rows[text] for text in texts if text in rows]

    def _with_superseded(
        self, tx: Tx, keys: Sequence[tuple[str, str]], kind: AlertKind | None = None
    ) -> list[Alert]:
        """The alerts of `keys`, then (breadth first) every alert they superseded, each once.

        A superseded pair of another source is never followed: an Update replaces only its own
        sender's messages, whatever its stored `supersedes` says.
        """
        found: list[Alert] = []
        seen: set[tuple[str, str]] = set()
        pending = list(keys)
        while pending:
            wanted = [key for key in dict.fromkeys(pending) if key not in seen]
            seen.update(wanted)
            pending = []
            for alert in self._alerts(tx, wanted, kind):
                found.append(alert)
                for pair in alert.attributes.get(SUPERSEDES) or ():
                    if (
                        isinstance(pair, list)
                        and len(pair) == 2
                        and all(isinstance(p, str) for p in pair)
                        and pair[0] == alert.source
                    ):
                        pending.append((pair[0], pair[1]))
        return found

    @staticmethod
    def _active(tx: Tx, incident_id: int) -> int:
        return int(tx.connection.execute(_active_of, {"incident_id": incident_id}).scalar_one())

    @staticmethod
    def _may(incident: Incident, trigger: str) -> bool:
        return trigger in INCIDENT.triggers_from(incident.state)
