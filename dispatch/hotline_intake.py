"""Hotline intake: every message of a call, and a caller's calls within the window, are one alert.

A call-taker's entry and the telephony system's events of one call share its `call_id`; the
first to arrive is received as an alert, the rest rewrite it in place through the same update
path as a Frigate object's later messages (`AlertStatus.update`, `alert_updated` on the
timeline). A second call from the same number within the correlation window, about the same
category, joins the first call's alert, so the incident counts one caller. Each message is one
writer command, so which arrives first never matters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from dispatch.core.routing import distance_m
from dispatch.intake.alerts import AlertIn
from dispatch.intake.pipeline import IntakeItem, Received, alert_key
from dispatch.service import DispatchService
from dispatch.storage.tables import alert_table, incident_table
from dispatch.storage.writer import Tx
from gateways import hotline
from state_machines import OPEN_INCIDENT_STATES

RECENT_CALLS = 1000
"""How many of the newest hotline alerts in the window are searched for the same caller."""

_by_key = sa.select(alert_table).where(alert_table.c.key == sa.bindparam("key"))
_recent = (
    sa.select(alert_table)
    .join(incident_table, alert_table.c.incident_id == incident_table.c.id)
    .where(
        alert_table.c.source == hotline.SOURCE,
        alert_table.c.received_at >= sa.bindparam("since"),
        incident_table.c.state.in_(sorted(state.value for state in OPEN_INCIDENT_STATES)),
    )
    .order_by(alert_table.c.id.desc())
    .limit(RECENT_CALLS)
)


@dataclass(frozen=True)
class CallOutcome:
    """What one hotline message did: ignored, or the call's alert received or rewritten."""

    ignored: str | None = None
    received: Received | None = None
    updated: bool = False


class HotlineIntake:
    def __init__(self, service: DispatchService) -> None:
        self.service = service
        self.config = service.config

    def check(self, call: hotline.CallEntry | hotline.TelephonyEvent) -> None:
        """Refuse, before anything is written, what config.yaml does not know."""
        alert = hotline.translate(call, self.config)
        if alert is not None:
            self.service.check_alerts([alert], False)

    async def take(
        self,
        call: hotline.CallEntry | hotline.TelephonyEvent,
        raw: Any,
        *,
        actor: str,
        causation_id: str | None = None,
    ) -> CallOutcome:
        self.check(call)
        text = orjson.dumps(raw).decode()
        outcome: CallOutcome = await self.service.writer.submit(
            lambda tx: self._take(tx, call, text, actor=actor, causation_id=causation_id)
        )
        if outcome.received is not None:
            self.service.accepted_alerts += 0 if outcome.received.duplicate else 1
            self.service.metrics.count_received([outcome.received])
        return outcome

    def _take(
        self,
        tx: Tx,
        call: hotline.CallEntry | hotline.TelephonyEvent,
        raw: str,
        *,
        actor: str,
        causation_id: str | None,
    ) -> CallOutcome:
        alert = hotline.translate(call, self.config)
        stored = self._find(tx, call, alert)
        if stored is None:
            if alert is None:
                return CallOutcome(ignored="no_category")
            [received] = self.service.intake.receive_many(tx, [IntakeItem(alert, raw, actor, causation_id)])
            return CallOutcome(received=received)
        entered: dict[str, Any] | None = None
        if isinstance(call, hotline.CallEntry):
            assert alert is not None
            [placed] = self.service.intake.place_many([alert])
            category = self.config.category_by_id[alert.category]
            entered = {
                "category": alert.category,
                "severity": alert.severity or int(category.default_severity),
                "lat": alert.location.lat if alert.location else stored["lat"],
                "lon": alert.location.lon if alert.location else stored["lon"],
                "jurisdiction_id": placed.node.id,
                "title": alert.title,
                "description": alert.description,
            }
        revision = hotline.merge(stored, call, entered)
        received = Received(stored["id"], stored["incident_id"], True)
        if not revision.changes:
            return CallOutcome(received=received)
        self.service.alert_status.update(
            tx,
            stored["source"],
            stored["source_event_id"],
            revision.attributes,
            lambda _attributes: revision.changes,
            columns=revision.columns,
            actor=actor,
            causation_id=causation_id,
        )
        return CallOutcome(received=received, updated=True)

    def _find(
        self, tx: Tx, call: hotline.CallEntry | hotline.TelephonyEvent, alert: AlertIn | None
    ) -> dict[str, Any] | None:
        """The call's alert: by its key, else a recent alert it joined, else the same caller's
        recent alert about the same category and place (where correlation would join them)."""
        row = (
            tx.connection.execute(_by_key, {"key": alert_key(hotline.SOURCE, call.call_id)})
            .mappings()
            .first()
        )
        if row is not None:
            return dict(row)
        since = tx.now - self.config.correlation.window
        recent = [dict(each) for each in tx.connection.execute(_recent, {"since": since}).mappings()]
        for each in recent:
            if call.call_id in (each["attributes"].get("calls") or ()):
                return each
        if alert is None:
            return None  # a call of unknown category: nothing to tell where it belongs
        [placed] = self.service.intake.place_many([alert])
        for each in recent:
            caller = each["attributes"].get("caller") or {}
            number = caller.get("number") if isinstance(caller, dict) else None
            if (
                isinstance(number, str)
                and hotline.same_number(number, call.caller_number)
                and alert.category == each["category"]
                and self._near(alert, placed.node.id, each)
            ):
                return each
        return None

    def _near(self, alert: AlertIn, jurisdiction_id: str, stored: dict[str, Any]) -> bool:
        if alert.location is None or stored["lat"] is None or stored["lon"] is None:
            return bool(jurisdiction_id == stored["jurisdiction_id"])
        distance = distance_m(alert.location.lat, alert.location.lon, stored["lat"], stored["lon"])
        return bool(distance <= self.config.correlation.radius_m)
