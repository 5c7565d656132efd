"""Phone calls: every message of a call, and a caller's calls within the window, are one alert.

A call-taker's entry and the telephony system's events of one call share its `call_id`; the
first to arrive is received as an alert, the rest rewrite it in place through the same update
path as a Frigate object's later messages (`AlertStatus.update`, `alert_updated` on the
timeline). A second call from the same number within the correlation window, about the same
category, joins the first call's alert, so the incident counts one caller. Each message is one
writer command, so which arrives first never matters. What a message says, and how it rewrites
a stored alert, is its gateway's (`CallMessage`); finding the alert and writing is here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa

from dispatch.config.model import Config
from dispatch.intake.alerts import AlertIn
from dispatch.intake.pipeline import Intake, IntakeItem, Received, alert_key
from dispatch.intake.status import AlertStatus
from dispatch.shared.geo import distance_m
from dispatch.storage.tables import alert_table, incident_table
from dispatch.storage.writer import Tx
from state_machines import OPEN_INCIDENT_STATES

StoredCall = Mapping[str, Any]
"""A call's stored alert row, columns by name: what the pure hotline `merge` reads."""

RECENT_CALLS = 1000
"""How many of the newest call alerts in the window are searched for the same caller."""

_by_key = sa.select(alert_table).where(alert_table.c.key == sa.bindparam("key"))
_recent = (
    sa.select(alert_table)
    .join(incident_table, alert_table.c.incident_id == incident_table.c.id)
    .where(
        alert_table.c.source == sa.bindparam("source"),
        alert_table.c.received_at >= sa.bindparam("since"),
        incident_table.c.state.in_(sorted(state.value for state in OPEN_INCIDENT_STATES)),
    )
    .order_by(alert_table.c.id.desc())
    .limit(RECENT_CALLS)
)


@dataclass(frozen=True)
class Revision:
    """A stored call's alert after one more message: what to write and what changed."""

    attributes: dict[str, Any]
    columns: dict[str, Any]
    changes: dict[str, list[Any]]


class CallMessage(Protocol):
    """One message of a call, as its gateway read it."""

    @property
    def source(self) -> str:
        """Every call's alert has this source, so all messages of a call share a key."""

    @property
    def call_id(self) -> str: ...

    @property
    def alert(self) -> AlertIn | None:
        """The alert the call stands for; None while its category is not known."""

    @property
    def entry(self) -> bool:
        """A call-taker's entry: its alert's category, place and text rewrite the stored ones."""

    def joined(self, stored: StoredCall) -> bool:
        """The stored alert already counts this call (another message of it joined there)."""

    def same_caller(self, stored: StoredCall) -> bool:
        """The stored alert's caller is this call's."""

    def merge(self, stored: StoredCall, entered: Mapping[str, Any] | None) -> Revision:
        """The stored alert after this message; `entered`: an entry's columns as it alone would write them."""


@dataclass(frozen=True)
class CallOutcome:
    """What one call message did: ignored, or the call's alert received or rewritten."""

    ignored: str | None = None
    received: Received | None = None
    updated: bool = False


class Calls:
    """Inside one writer transaction: a call message received, or joined to its call's alert."""

    def __init__(self, config: Config, intake: Intake, alert_status: AlertStatus) -> None:
        self.config = config
        self.intake = intake
        self.alert_status = alert_status

    def take(
        self, tx: Tx, call: CallMessage, raw: str, *, actor: str, causation_id: str | None
    ) -> CallOutcome:
        alert = call.alert
        stored = self._find(tx, call)
        if stored is None:
            if alert is None:
                return CallOutcome(ignored="no_category")
            [received] = self.intake.receive_many(tx, [IntakeItem(alert, raw, actor, causation_id)])
            return CallOutcome(received=received)
        entered: dict[str, Any] | None = None
        if call.entry:
            assert alert is not None
            entered = self._entered(alert, stored)
        revision = call.merge(stored, entered)
        received = Received(stored["id"], stored["incident_id"], True)
        if not revision.changes:
            return CallOutcome(received=received)
        self.alert_status.update(
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

    def _entered(self, alert: AlertIn, stored: StoredCall) -> dict[str, Any]:
        """The alert row's columns as the entry alone would write them."""
        [placed] = self.intake.place_many([alert])
        category = self.config.category_by_id[alert.category]
        return {
            "category": alert.category,
            "severity": alert.severity or int(category.default_severity),
            "lat": alert.location.lat if alert.location else stored["lat"],
            "lon": alert.location.lon if alert.location else stored["lon"],
            "jurisdiction_id": placed.node.id,
            "title": alert.title,
            "description": alert.description,
        }

    def _find(self, tx: Tx, call: CallMessage) -> StoredCall | None:
        """The call's alert: by its key, else a recent alert it joined, else the same caller's
        recent alert about the same category and place (where correlation would join them)."""
        key = alert_key(call.source, call.call_id)
        row = tx.connection.execute(_by_key, {"key": key}).mappings().first()
        if row is not None:
            return dict(row)
        since = tx.now - self.config.correlation.window
        found = tx.connection.execute(_recent, {"source": call.source, "since": since}).mappings()
        recent = [dict(each) for each in found]
        for each in recent:
            if call.joined(each):
                return each
        alert = call.alert
        if alert is None:
            return None  # a call of unknown category: nothing to tell where it belongs
        [placed] = self.intake.place_many([alert])
        for each in recent:
            if (
                call.same_caller(each)
                and alert.category == each["category"]
                and self._near(alert, placed.node.id, each)
            ):
                return each
        return None

    def _near(self, alert: AlertIn, jurisdiction_id: str, stored: StoredCall) -> bool:
        if alert.location is None or stored["lat"] is None or stored["lon"] is None:
            return bool(jurisdiction_id == stored["jurisdiction_id"])
        distance = distance_m(alert.location.lat, alert.location.lon, stored["lat"], stored["lon"])
        return bool(distance <= self.config.correlation.radius_m)
