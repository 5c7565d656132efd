"""Alert intake: deduplicate, correlate into an open incident or open a new one, dispatch.

Alerts are taken many at a time (every request that arrived while the previous group commit
ran): one query finds the keys already seen, one finds the candidate incidents, and the new
alert rows and incident counters are written with one statement each. Only alerts that open
an incident pay for routing to responders, which is rare next to repeats.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from dispatch.config.model import Config, Policy, Severity
from dispatch.core.escalation import Escalation
from dispatch.core.routing import Router
from dispatch.events.catalog import AlertReceived, IncidentNotified, IncidentReported, IncidentSeverityRaised
from dispatch.intake.alerts import AlertIn
from dispatch.intake.correlation import Correlator, Joinable, Placed, place_key
from dispatch.intake.wire_limits import TimeWindow
from dispatch.shared.clock import Clock
from dispatch.shared.errors import InvalidInput
from dispatch.storage import repository
from dispatch.storage.records import Incident, PolicySnapshot
from dispatch.storage.tables import alert_table, incident_table
from dispatch.storage.writer import Tx
from state_machines import IncidentState

_known_keys = sa.select(alert_table.c.key, alert_table.c.id, alert_table.c.incident_id).where(
    alert_table.c.key.in_(sa.bindparam("keys", expanding=True))
)

_insert_alert = alert_table.insert()
_update_counters = (
    incident_table.update()
    .where(incident_table.c.id == sa.bindparam("_id"))
    .values(
        alert_count=sa.bindparam("_alert_count"),
        last_alert_at=sa.bindparam("_last_alert_at"),
        severity=sa.bindparam("_severity"),
        updated_at=sa.bindparam("_updated_at"),
    )
)


@dataclass(frozen=True)
class Received:
    """What the sender is told: its alert's id, the incident it is part of, and if seen before."""

    alert_id: int
    incident_id: int
    duplicate: bool


@dataclass(frozen=True)
class IntakeItem:
    """One validated alert with its verbatim JSON and who sent it."""

    alert: AlertIn
    raw: str
    actor: str
    causation_id: str | None = None


def alert_key(source: str, source_event_id: str) -> str:
    """The idempotency key as one unambiguous text (JSON of the pair)."""
    return orjson.dumps([source, source_event_id]).decode()


class Intake:
    def __init__(self, config: Config, router: Router, escalation: Escalation, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.router = router
        self.escalation = escalation
        self.correlator = Correlator(config)
        self._policies: dict[str, tuple[Policy, dict[str, Any]]] = {}
        """Each policy with its snapshot JSON, dumped once per policy object rather than per incident."""

    def check(self, alert: AlertIn, where: str = "") -> None:
        """Refuse what config.yaml does not know, before anything is written."""
        if alert.category not in self.config.category_by_id:
            known = ", ".join(sorted(self.config.category_by_id))
            raise InvalidInput(
                f"unknown category {alert.category!r}; known: {known}", field=f"{where}category"
            )
        if alert.jurisdiction is not None and alert.jurisdiction not in self.config.jurisdiction_by_id:
            raise InvalidInput(f"unknown jurisdiction {alert.jurisdiction!r}", field=f"{where}jurisdiction")
        if alert.location is None and alert.jurisdiction is None:
            raise InvalidInput("an alert needs a location or a jurisdiction", field=f"{where}location")
        if alert.observed_at is not None:
            # Gateways check their own fields first (startsAt, sent …) to name them; this
            # catches every channel, MQTT sensors included.
            self.time_window().check(alert.observed_at, f"{where}observed_at")

    def time_window(self) -> TimeWindow:
        return TimeWindow(self.clock.now(), self.config.intake.max_future_skew)

    def place_many(self, alerts: Sequence[AlertIn]) -> list[Placed]:
        """The deepest jurisdiction of each point; the city, flagged, when outside them all."""
        located = iter(
            self.router.locate_many(
                [(a.location.lat, a.location.lon) for a in alerts if a.location is not None]
            )
        )
        placed: list[Placed] = []
        for alert in alerts:
            if alert.location is not None:
                node = next(located)
                if node is not None:
                    placed.append(Placed(node, False))
                    continue
                if alert.jurisdiction is None:
                    placed.append(Placed(self.config.root, True))
                    continue
            assert alert.jurisdiction is not None
            node = self.config.jurisdiction_by_id[alert.jurisdiction]
            placed.append(Placed(node, alert.location is not None))
        return placed

    def _policy_json(self, name: str) -> dict[str, Any]:
        policy = self.config.policies[name]
        cached = self._policies.get(name)
        if cached is None or cached[0] is not policy:
            cached = self._policies[name] = (policy, policy.model_dump(mode="json"))
        return cached[1]

    # The pass ---------------------------------------------------------------------------------

    def receive_many(self, tx: Tx, items: Sequence[IntakeItem]) -> list[Received]:
        """Store a pass of alerts; each jurisdiction's free units are read once for all of it."""
        with tx.keeping_roster(), repository.holding(tx.connection):
            return self._receive(tx, items)

    def _receive(self, tx: Tx, items: Sequence[IntakeItem]) -> list[Received]:
        keys = [(item.alert.source, item.alert.source_event_id) for item in items]
        seen = self._seen(tx, keys)
        fresh = [index for index, key in enumerate(keys) if key not in seen]
        placed = dict(zip(fresh, self.place_many([items[i].alert for i in fresh]), strict=True))
        candidates = self.correlator.load(tx, [items[i].alert for i in fresh], list(placed.values()))
        alert_rows: list[dict[str, Any]] = []
        touched: dict[int, Joinable] = {}
        signals: dict[tuple[str, str], int] = {}
        results: list[Received] = []
        for index, item in enumerate(items):
            key = keys[index]
            if key in seen:
                results.append(seen[key])
                continue
            alert = item.alert
            where = placed[index]
            category = self.config.category_by_id[alert.category]
            severity = alert.severity or int(category.default_severity)
            alert_id = tx.ids.next("alert")
            causation_id = item.causation_id or f"alert:{alert_id}"
            incident = candidates.find(alert, where)
            opened: Incident | None = None
            if incident is None:
                incident = opened = self._open(tx, alert, where, severity)
                candidates.add(opened)
                self.correlator.opened(opened)
            else:
                self._attach(tx, incident, severity, actor=item.actor, causation_id=causation_id)
                touched[incident.id] = incident
            candidates.by_signal[(alert.source, alert.category)] = incident
            signals[(alert.source, alert.category)] = incident.id
            alert_rows.append(self._alert_row(tx, alert_id, item, where, severity, incident.id))
            tx.record(
                _alert_received(tx, item, alert_id, causation_id, severity, incident, opened is not None)
            )
            if opened is not None:
                self._announce(tx, opened, actor=item.actor, causation_id=causation_id)
            received = Received(alert_id, incident.id, False)
            seen[key] = Received(alert_id, incident.id, True)
            results.append(received)
        repository.write_held(tx.connection)  # before the alerts that refer to them
        _write_pass(tx, alert_rows, touched)
        tx.after_commit(lambda: self.correlator.remember(signals))
        return results

    def _seen(self, tx: Tx, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Received]:
        by_text = {alert_key(*key): key for key in keys}
        texts = list(by_text)
        seen: dict[tuple[str, str], Received] = {}
        for start in range(0, len(texts), 1000):  # well inside SQLite's bound-parameter limit
            rows = tx.connection.execute(_known_keys, {"keys": texts[start : start + 1000]})
            for row in rows:
                seen[by_text[row.key]] = Received(row.id, row.incident_id, True)
        return seen

    def _alert_row(
        self, tx: Tx, alert_id: int, item: IntakeItem, where: Placed, severity: int, incident_id: int
    ) -> dict[str, Any]:
        alert = item.alert
        return {
            "id": alert_id,
            "source": alert.source,
            "source_event_id": alert.source_event_id,
            "key": alert_key(alert.source, alert.source_event_id),
            "kind": alert.kind.value,
            "category": alert.category,
            "severity": severity,
            "lat": alert.location.lat if alert.location else None,
            "lon": alert.location.lon if alert.location else None,
            "jurisdiction_id": where.node.id,
            "observed_at": alert.observed_at.timestamp() if alert.observed_at else tx.now,
            "received_at": tx.now,
            "title": alert.title,
            "description": alert.description,
            "attributes": alert.attributes,
            "raw": item.raw,
            "incident_id": incident_id,
        }

    # Incidents --------------------------------------------------------------------------------

    def _attach(self, tx: Tx, incident: Joinable, severity: int, *, actor: str, causation_id: str) -> None:
        """Count the alert on the incident; the row is written once at the end of the pass."""
        incident.alert_count += 1
        incident.last_alert_at = tx.now
        incident.updated_at = tx.now
        if severity >= incident.severity:
            return
        tx.record(
            IncidentSeverityRaised(
                occurred_at=tx.now,
                actor=actor,
                causation_id=causation_id,
                incident_id=incident.id,
                from_severity=incident.severity,
                to_severity=severity,
            )
        )
        incident.severity = severity
        category = self.config.category_by_id[incident.category]
        policy = self.config.policies[category.policy_for(Severity(severity))]
        if policy.notify_all_tiers and not self.config.policies[incident.policy_name].notify_all_tiers:
            self._notify(tx, incident, policy.notify_prefecture, actor=actor, causation_id=causation_id)

    def _open(self, tx: Tx, alert: AlertIn, placed: Placed, severity: int) -> Incident:
        category = self.config.category_by_id[alert.category]
        policy_name = category.policy_for(Severity(severity))
        policy = self.config.policies[policy_name]
        node = placed.node
        first_tier = next(
            (step.tier for step in policy.steps if step.tier.depth <= node.tier.depth), node.tier
        )
        owner = self.config.ancestor_at(node.id, first_tier)
        row = Incident(
            id=tx.ids.next("incident"),
            category=category.id,
            severity=severity,
            state=IncidentState.REPORTED.value,
            title=alert.title or category.name,
            lat=alert.location.lat if alert.location else None,
            lon=alert.location.lon if alert.location else None,
            jurisdiction_id=node.id,
            place=place_key(category.id, node.id),
            outside_area=placed.outside_area,
            owner_jurisdiction_id=owner.id,
            owner_tier=owner.tier.value,
            departments=[category.department],
            alert_count=1,
            first_alert_at=tx.now,
            last_alert_at=tx.now,
            policy_name=policy_name,
            # auto_resolve is not part of the incident's wire snapshot (web/schemas.py
            # PolicySnapshot); dispatch/intake/status.py reads it from the stored snapshot.
            policy=PolicySnapshot.from_json(self._policy_json(policy_name)),
            step_index=0,
            step_deadline_at=None,
            forwarded=False,
            merged_into=None,
            summary=None,
            milestones={IncidentState.REPORTED.value: tx.now},
            created_at=tx.now,
            updated_at=tx.now,
        )
        repository.hold(tx.connection, row)
        return row

    def _announce(self, tx: Tx, incident: Incident, *, actor: str, causation_id: str) -> None:
        tx.record(
            IncidentReported(
                occurred_at=tx.now,
                actor=actor,
                causation_id=causation_id,
                incident_id=incident.id,
                category=incident.category,
                severity=incident.severity,
                title=incident.title,
                lat=incident.lat,
                lon=incident.lon,
                jurisdiction_id=incident.jurisdiction_id,
                outside_area=incident.outside_area,
                owner_jurisdiction_id=incident.owner_jurisdiction_id,
                owner_tier=incident.owner_tier,
                departments=incident.departments,
                policy_name=incident.policy_name,
            )
        )
        policy = self.config.policies[incident.policy_name]
        if policy.notify_all_tiers:
            self._notify(tx, incident, policy.notify_prefecture, actor=actor, causation_id=causation_id)
        self.escalation.start(tx, incident, actor=actor, causation_id=causation_id)

    def _notify(self, tx: Tx, incident: Joinable, prefecture: bool, *, actor: str, causation_id: str) -> None:
        ancestors = [node.id for node in self.config.ancestors(incident.jurisdiction_id)]
        prefecture_id = self.config.prefecture.id if prefecture and self.config.prefecture else None
        tx.record(
            IncidentNotified(
                occurred_at=tx.now,
                actor=actor,
                causation_id=causation_id,
                incident_id=incident.id,
                jurisdiction_ids=ancestors,
                prefecture_id=prefecture_id,
            )
        )


def _alert_received(
    tx: Tx,
    item: IntakeItem,
    alert_id: int,
    causation_id: str,
    severity: int,
    incident: Joinable,
    new_incident: bool,
) -> AlertReceived:
    alert = item.alert
    return AlertReceived(
        occurred_at=tx.now,
        actor=item.actor,
        causation_id=causation_id,
        incident_id=incident.id,
        alert_id=alert_id,
        source=alert.source,
        source_event_id=alert.source_event_id,
        kind=alert.kind.value,
        category=alert.category,
        severity=severity,
        new_incident=new_incident,
        alert_count=incident.alert_count,
    )


def _write_pass(tx: Tx, alert_rows: list[dict[str, Any]], touched: dict[int, Joinable]) -> None:
    """The pass's new alerts in one statement, the joined incidents' counters in another."""
    if alert_rows:
        tx.connection.execute(_insert_alert, alert_rows)
    if touched:
        tx.connection.execute(
            _update_counters,
            [
                {
                    "_id": row.id,
                    "_alert_count": row.alert_count,
                    "_last_alert_at": row.last_alert_at,
                    "_severity": row.severity,
                    "_updated_at": row.updated_at,
                }
                for row in touched.values()
            ],
        )
