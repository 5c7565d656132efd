"""Alert intake: deduplicate, correlate into an open incident or open a new one, dispatch."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from dispatch import repository
from dispatch.alerts import AlertIn
from dispatch.config import Config, Jurisdiction, Severity
from dispatch.errors import InvalidInput
from dispatch.events import AlertReceived, IncidentNotified, IncidentReported, IncidentSeverityRaised
from dispatch.lifecycle import OPEN_INCIDENT_STATES
from dispatch.policy import PolicyRunner
from dispatch.repository import Row
from dispatch.routing import Router, distance_m
from dispatch.tables import alert_table, incident_table
from dispatch.writer import Tx
from state_machines import IncidentState

_OPEN = sorted(state.value for state in OPEN_INCIDENT_STATES)

_same_signal = (
    sa.select(incident_table)
    .join(alert_table, alert_table.c.incident_id == incident_table.c.id)
    .where(
        alert_table.c.source == sa.bindparam("source"),
        alert_table.c.category == sa.bindparam("category"),
        incident_table.c.state.in_(_OPEN),
    )
    .order_by(alert_table.c.id.desc())
    .limit(1)
)

_nearby = sa.select(incident_table).where(
    incident_table.c.category == sa.bindparam("category"),
    incident_table.c.jurisdiction_id == sa.bindparam("jurisdiction_id"),
    incident_table.c.last_alert_at >= sa.bindparam("since"),
    incident_table.c.state.in_(_OPEN),
)


@dataclass(frozen=True)
class Received:
    """What the sender is told: its alert's id, the incident it is part of, and if seen before."""

    alert_id: int
    incident_id: int
    duplicate: bool

    def as_json(self) -> dict[str, object]:
        return {"alert_id": self.alert_id, "incident_id": self.incident_id, "duplicate": self.duplicate}


@dataclass(frozen=True)
class Placed:
    node: Jurisdiction
    outside_area: bool


class Intake:
    def __init__(self, config: Config, router: Router, policy: PolicyRunner) -> None:
        self.config = config
        self.router = router
        self.policy = policy

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

    def place(self, alert: AlertIn) -> Placed:
        """The deepest jurisdiction of the point; the city, flagged, when it lies outside them all."""
        if alert.location is not None:
            node = self.router.locate(alert.location.lat, alert.location.lon)
            if node is not None:
                return Placed(node, False)
            if alert.jurisdiction is None:
                return Placed(self.config.root, True)
        assert alert.jurisdiction is not None
        return Placed(self.config.jurisdiction_by_id[alert.jurisdiction], alert.location is not None)

    def receive(self, tx: Tx, alert: AlertIn, raw: str, *, actor: str, causation_id: str | None) -> Received:
        existing = repository.alert_by_key(tx.connection, alert.source, alert.source_event_id)
        if existing is not None:
            return Received(existing["id"], existing["incident_id"], True)
        placed = self.place(alert)
        category = self.config.category_by_id[alert.category]
        severity = alert.severity or int(category.default_severity)
        alert_id = tx.ids.next("alert")
        causation_id = causation_id or f"alert:{alert_id}"
        incident = self._correlate(tx, alert, placed)
        new_incident = incident is None
        if incident is None:
            incident = self._open(tx, alert, placed, severity)
        else:
            self._attach(tx, incident, severity, actor=actor, causation_id=causation_id)
        lat = alert.location.lat if alert.location else None
        lon = alert.location.lon if alert.location else None
        tx.connection.execute(
            alert_table.insert().values(
                id=alert_id,
                source=alert.source,
                source_event_id=alert.source_event_id,
                kind=alert.kind.value,
                category=alert.category,
                severity=severity,
                lat=lat,
                lon=lon,
                jurisdiction_id=placed.node.id,
                observed_at=alert.observed_at.timestamp() if alert.observed_at else tx.now,
                received_at=tx.now,
                title=alert.title,
                description=alert.description,
                attributes=alert.attributes,
                raw=raw,
                incident_id=incident["id"],
            )
        )
        tx.record(
            AlertReceived(
                occurred_at=tx.now,
                actor=actor,
                causation_id=causation_id,
                incident_id=incident["id"],
                alert_id=alert_id,
                source=alert.source,
                source_event_id=alert.source_event_id,
                kind=alert.kind.value,
                category=alert.category,
                severity=severity,
                new_incident=new_incident,
                alert_count=incident["alert_count"],
            )
        )
        if new_incident:
            self._announce(tx, incident, actor=actor, causation_id=causation_id)
        return Received(alert_id, incident["id"], False)

    def _correlate(self, tx: Tx, alert: AlertIn, placed: Placed) -> Row | None:
        connection = tx.connection
        same = (
            connection.execute(_same_signal, {"source": alert.source, "category": alert.category})
            .mappings()
            .first()
        )
        if same is not None:
            return dict(same)
        since = tx.now - self.config.correlation.window
        candidates = (
            connection.execute(
                _nearby, {"category": alert.category, "jurisdiction_id": placed.node.id, "since": since}
            )
            .mappings()
            .all()
        )
        best: tuple[float, Row] | None = None
        for candidate in candidates:
            if alert.location is None or candidate["lat"] is None or candidate["lon"] is None:
                distance = 0.0  # known only by jurisdiction: same node, same category, same time
            else:
                distance = distance_m(
                    alert.location.lat, alert.location.lon, candidate["lat"], candidate["lon"]
                )
                if distance > self.config.correlation.radius_m:
                    continue
            if best is None or distance < best[0]:
                best = (distance, dict(candidate))
        return best[1] if best else None

    def _attach(self, tx: Tx, incident: Row, severity: int, *, actor: str, causation_id: str) -> None:
        values: dict[str, object] = {
            "alert_count": incident["alert_count"] + 1,
            "last_alert_at": tx.now,
            "updated_at": tx.now,
        }
        if severity < incident["severity"]:
            values["severity"] = severity
            tx.record(
                IncidentSeverityRaised(
                    occurred_at=tx.now,
                    actor=actor,
                    causation_id=causation_id,
                    incident_id=incident["id"],
                    from_severity=incident["severity"],
                    to_severity=severity,
                )
            )
            category = self.config.category_by_id[incident["category"]]
            policy = self.config.policies[category.policy_for(Severity(severity))]
            if policy.notify_all_tiers and not self.config.policies[incident["policy_name"]].notify_all_tiers:
                self._notify(tx, incident, policy.notify_prefecture, actor=actor, causation_id=causation_id)
        repository.update(tx.connection, incident_table, incident, **values)

    def _open(self, tx: Tx, alert: AlertIn, placed: Placed, severity: int) -> Row:
        category = self.config.category_by_id[alert.category]
        policy_name = category.policy_for(Severity(severity))
        policy = self.config.policies[policy_name]
        node = placed.node
        first_tier = next(
            (step.tier for step in policy.steps if step.tier.depth <= node.tier.depth), node.tier
        )
        owner = self.config.ancestor_at(node.id, first_tier)
        row: Row = {
            "id": tx.ids.next("incident"),
            "category": category.id,
            "severity": severity,
            "state": IncidentState.REPORTED.value,
            "title": alert.title or category.name,
            "lat": alert.location.lat if alert.location else None,
            "lon": alert.location.lon if alert.location else None,
            "jurisdiction_id": node.id,
            "outside_area": placed.outside_area,
            "owner_jurisdiction_id": owner.id,
            "owner_tier": owner.tier.value,
            "departments": [category.department],
            "alert_count": 1,
            "first_alert_at": tx.now,
            "last_alert_at": tx.now,
            "policy_name": policy_name,
            "policy": policy.model_dump(mode="json"),
            "step_index": 0,
            "step_deadline_at": None,
            "forwarded": False,
            "merged_into": None,
            "summary": None,
            "milestones": {IncidentState.REPORTED.value: tx.now},
            "created_at": tx.now,
            "updated_at": tx.now,
        }
        tx.connection.execute(incident_table.insert().values(**row))
        return row

    def _announce(self, tx: Tx, incident: Row, *, actor: str, causation_id: str) -> None:
        tx.record(
            IncidentReported(
                occurred_at=tx.now,
                actor=actor,
                causation_id=causation_id,
                incident_id=incident["id"],
                category=incident["category"],
                severity=incident["severity"],
                title=incident["title"],
                lat=incident["lat"],
                lon=incident["lon"],
                jurisdiction_id=incident["jurisdiction_id"],
                outside_area=incident["outside_area"],
                owner_jurisdiction_id=incident["owner_jurisdiction_id"],
                owner_tier=incident["owner_tier"],
                departments=incident["departments"],
                policy_name=incident["policy_name"],
            )
        )
        policy = self.config.policies[incident["policy_name"]]
        if policy.notify_all_tiers:
            self._notify(tx, incident, policy.notify_prefecture, actor=actor, causation_id=causation_id)
        self.policy.start(tx, incident, actor=actor, causation_id=causation_id)

    def _notify(self, tx: Tx, incident: Row, prefecture: bool, *, actor: str, causation_id: str) -> None:
        ancestors = [node.id for node in self.config.ancestors(incident["jurisdiction_id"])]
        prefecture_id = self.config.prefecture.id if prefecture and self.config.prefecture else None
        tx.record(
            IncidentNotified(
                occurred_at=tx.now,
                actor=actor,
                causation_id=causation_id,
                incident_id=incident["id"],
                jurisdiction_ids=ancestors,
                prefecture_id=prefecture_id,
            )
        )
