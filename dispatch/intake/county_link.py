"""A county's CAP messages at the prefecture: one incident here per county incident, exactly once.

The prefecture runs the same server as its counties (issue 12, "the prefecture link"). A
county sends each of its incidents up as CAP 1.2: an `Alert`, then `Update`s, maybe a
`Cancel`, all naming the county's incident in `incidents`. The first message opens an incident
here through the ordinary intake (an alert of kind cap, placed in the county's node of this
tree), never correlated into another; every later message of the same (sender, incidents)
joins that incident whatever the correlation window, and a Cancel cancels it. Each message is
taken once by (sender, identifier): the county's outbox may send one again after a restart.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from dispatch.config.model import Config
from dispatch.events.catalog import CountyUpdateReceived
from dispatch.intake.alerts import AlertIn
from dispatch.intake.correlation import Placed
from dispatch.intake.pipeline import Intake, IntakeItem, _alert_received, _write_pass
from dispatch.storage import repository
from dispatch.storage.tables import alert_table, link_incident_table, link_message_table
from dispatch.storage.writer import Tx
from state_machines import INCIDENT, IncidentTrigger

CANCEL = "Cancel"


@dataclass(frozen=True)
class CountyMessage:
    """One CAP message of a county, as the link reads it (gateways/cap_link.py)."""

    sender: str
    identifier: str
    msg_type: str
    """Alert, Update or Cancel."""
    county_incident_id: str
    sent_at: str
    county_state: str | None
    change: str | None
    alert: AlertIn | None
    """Alert and Update: the alert it carries (None for a Cancel)."""
    raw: str


@dataclass(frozen=True)
class CountyReceipt:
    """What the county is told: the prefecture's incident, and whether this message was taken before."""

    incident_id: int | None
    """None: a Cancel (or an ignored message) of a county incident never received here."""
    duplicate: bool
    opened: bool = False
    cancelled: bool = False


class CountyLink:
    """Takes county messages inside the writer's transaction (one command per message)."""

    def __init__(self, config: Config, intake: Intake) -> None:
        self.config = config
        self.intake = intake

    def take(self, tx: Tx, message: CountyMessage, *, actor: str, causation_id: str | None) -> CountyReceipt:
        seen = tx.connection.execute(
            sa.select(link_message_table.c.incident_id).where(
                link_message_table.c.sender == message.sender,
                link_message_table.c.identifier == message.identifier,
            )
        ).first()
        if seen is not None:
            return CountyReceipt(seen.incident_id, duplicate=True)
        causation = causation_id or f"cap:{message.sender}:{message.identifier}"
        incident_id = self._incident_of(tx, message)
        opened = False
        if message.alert is not None:
            item = IntakeItem(message.alert, message.raw, actor, causation)
            if incident_id is None:
                incident_id, opened = self._open(tx, item, message), True
            else:
                self._join(tx, item, incident_id)
        tx.connection.execute(
            link_message_table.insert().values(
                sender=message.sender,
                identifier=message.identifier,
                msg_type=message.msg_type,
                incident_id=incident_id,
                received_at=tx.now,
            )
        )
        if incident_id is None:
            return CountyReceipt(None, duplicate=False)
        tx.record(
            CountyUpdateReceived(
                occurred_at=tx.now,
                actor=actor,
                causation_id=causation,
                incident_id=incident_id,
                sender=message.sender,
                identifier=message.identifier,
                msg_type=message.msg_type,
                county_incident_id=message.county_incident_id,
                county_state=message.county_state,
                change=message.change,
                sent_at=message.sent_at,
            )
        )
        cancelled = message.msg_type == CANCEL and self._cancel(tx, incident_id, message, actor, causation)
        return CountyReceipt(incident_id, duplicate=False, opened=opened, cancelled=cancelled)

    def _incident_of(self, tx: Tx, message: CountyMessage) -> int | None:
        found = tx.connection.execute(
            sa.select(link_incident_table.c.incident_id).where(
                link_incident_table.c.sender == message.sender,
                link_incident_table.c.county_incident_id == message.county_incident_id,
            )
        ).scalar()
        return int(found) if found is not None else None

    def _placed(self, alert: AlertIn, sender: str) -> Placed:
        """The county's own node of this tree; a sender this tree does not name is placed as any alert."""
        node = self.config.jurisdiction_by_id.get(sender)
        if node is not None:
            return Placed(node, False)
        return self.intake.place_many([alert])[0]

    def _open(self, tx: Tx, item: IntakeItem, message: CountyMessage) -> int:
        intake, alert = self.intake, item.alert
        placed = self._placed(alert, message.sender)
        severity = alert.severity or int(self.config.category_by_id[alert.category].default_severity)
        alert_id = tx.ids.next("alert")
        incident = intake._open(tx, alert, placed, severity)
        intake.correlator.opened(incident)
        tx.connection.execute(
            alert_table.insert(), [intake._alert_row(tx, alert_id, item, placed, severity, incident.id)]
        )
        assert item.causation_id is not None
        tx.record(_alert_received(tx, item, alert_id, item.causation_id, severity, incident, True))
        intake._announce(tx, incident, actor=item.actor, causation_id=item.causation_id)
        tx.connection.execute(
            link_incident_table.insert().values(
                sender=message.sender,
                county_incident_id=message.county_incident_id,
                incident_id=incident.id,
                created_at=tx.now,
            )
        )
        return incident.id

    def _join(self, tx: Tx, item: IntakeItem, incident_id: int) -> None:
        intake, alert = self.intake, item.alert
        incident = repository.incident(tx.connection, incident_id)
        severity = alert.severity or int(self.config.category_by_id[alert.category].default_severity)
        alert_id = tx.ids.next("alert")
        assert item.causation_id is not None
        intake._attach(tx, incident, severity, actor=item.actor, causation_id=item.causation_id)
        placed = Placed(self.config.jurisdiction_by_id[incident.jurisdiction_id], incident.outside_area)
        row = intake._alert_row(tx, alert_id, item, placed, severity, incident.id)
        tx.record(_alert_received(tx, item, alert_id, item.causation_id, severity, incident, False))
        _write_pass(tx, [row], {incident.id: incident})

    def _cancel(self, tx: Tx, incident_id: int, message: CountyMessage, actor: str, causation: str) -> bool:
        incident = repository.incident(tx.connection, incident_id)
        if IncidentTrigger.CANCEL not in INCIDENT.triggers_from(incident.state):
            return False
        self.intake.escalation.trigger_incident(
            tx,
            incident,
            IncidentTrigger.CANCEL,
            actor=actor,
            causation_id=causation,
            reason=(
                f"{message.sender} cancelled its incident {message.county_incident_id} "
                f"(CAP {message.identifier})"
            ),
        )
        return True
