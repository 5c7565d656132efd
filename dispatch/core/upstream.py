"""What goes up to the prefecture: the writer observer that queues CAP Alert, Update and Cancel.

An incident goes up once it matters to the prefecture: reported or raised to severity
`upstream.send_severity` or graver, notified to the prefecture (policy `notify_prefecture`), or
forwarded past the city tier. From then on each later change of it (a state transition, a change
of owner, a severity raised, a department added or removed, a forward) goes up as an Update
whose `references` list every earlier message of the incident, and its cancellation or merger
as a Cancel. The message is queued in the transaction of the change (dispatch/core/outbound.py):
one per incident per command, in the order of the changes, never lost, never sent twice.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa

from dispatch.config.link import UPSTREAM, Upstream
from dispatch.config.model import Config
from dispatch.core.outbound import enqueue, new_message_id
from dispatch.events.catalog import (
    DomainEvent,
    IncidentCancelled,
    IncidentChanged,
    IncidentForwarded,
    IncidentMerged,
    IncidentNotified,
    IncidentReported,
    IncidentSeverityRaised,
)
from dispatch.storage import repository
from dispatch.storage.records import Incident
from dispatch.storage.tables import outbound_table
from dispatch.storage.transaction import Tx

logger = logging.getLogger(__name__)

CAP_PATH = "/api/v1/link/cap"
CAP_CONTENT_TYPE = "application/xml"
"""What every CAP intake of this software takes (web/alert_feeds.py: also text/xml, application/cap+xml)."""

CHANGES = (IncidentChanged, IncidentSeverityRaised, IncidentForwarded, IncidentNotified, IncidentReported)
"""The events the planner looks at; any other command passes it by at the cost of a type check."""


class MessageType(StrEnum):
    ALERT = "Alert"
    UPDATE = "Update"
    CANCEL = "Cancel"


KINDS = {kind: f"cap_{kind.value.lower()}" for kind in MessageType}
"""The outbox's `kind` of each: cap_alert, cap_update, cap_cancel."""
SUMMARY = {MessageType.ALERT: "首报", MessageType.UPDATE: "续报", MessageType.CANCEL: "撤销"}


@dataclass(frozen=True)
class Reference:
    sender: str
    identifier: str
    sent: float


@dataclass(frozen=True)
class UpstreamMessage:
    """One CAP message about one incident, before it is written as XML (gateways/cap_out.py)."""

    message_type: MessageType
    sender: str
    identifier: str
    sent: float
    addresses: str
    incident_id: int
    references: list[Reference]
    category: str
    category_name: str
    severity: int
    headline: str
    description: str
    state: str
    owner_tier: str
    owner: str
    change: str
    area: str
    lat: float
    lon: float


Render = Callable[[UpstreamMessage], str]


@dataclass(frozen=True)
class Planned:
    """What one command's changes of one incident send up."""

    message_type: MessageType
    earlier: list[Reference]
    change: str


class UpstreamPlanner:
    """The writer observer of a county with an `upstream`: queues what the prefecture is to know."""

    def __init__(self, config: Config, render: Render) -> None:
        assert config.upstream is not None and config.prefecture is not None
        self.config = config
        self.settings: Upstream = config.upstream
        self.sender = config.upstream.sender or config.root.id
        self.prefecture = config.prefecture
        self._render = render

    def observe(self, tx: Tx, events: list[DomainEvent]) -> None:
        by_incident: dict[int, list[DomainEvent]] = {}
        for event in events:
            if isinstance(event, CHANGES) and event.incident_id is not None:
                by_incident.setdefault(event.incident_id, []).append(event)
        for incident_id, changes in by_incident.items():
            # Deciding only reads: most changes send nothing and cost no savepoint.
            planned = self._plan(tx, incident_id, changes)
            if planned is None:
                continue
            ok, _ = tx.isolated(functools.partial(self._enqueue, incident_id=incident_id, planned=planned))
            if not ok:
                logger.error("incident %s: could not queue its message to the prefecture", incident_id)

    def _plan(self, tx: Tx, incident_id: int, changes: list[DomainEvent]) -> Planned | None:
        opened = any(isinstance(event, IncidentReported) for event in changes)
        earlier, cancelled = ([], False) if opened else self._earlier(tx, incident_id)
        if cancelled:
            return None  # the prefecture's incident is cancelled: nothing more to say about it
        if earlier:
            message_type = self._followup(changes)
        elif self._goes_up(changes):
            message_type = MessageType.ALERT
        else:
            return None
        if message_type is None:
            return None
        # The notice that follows a raised severity is its consequence, not the change itself.
        causes = [event.type for event in changes if not isinstance(event, IncidentNotified)]
        return Planned(message_type, earlier, causes[-1] if causes else changes[-1].type)

    def _goes_up(self, changes: list[DomainEvent]) -> bool:
        grave = self.settings.send_severity.value
        for event in changes:
            if isinstance(event, IncidentReported) and event.severity <= grave:
                return True
            if isinstance(event, IncidentSeverityRaised) and event.to_severity <= grave:
                return True
            if isinstance(event, IncidentNotified) and event.prefecture_id is not None:
                return True
            if isinstance(event, IncidentForwarded):
                return True
        return False

    @staticmethod
    def _followup(changes: list[DomainEvent]) -> MessageType | None:
        if any(isinstance(event, IncidentCancelled | IncidentMerged) for event in changes):
            return MessageType.CANCEL
        if any(not isinstance(event, IncidentReported | IncidentNotified) for event in changes):
            return MessageType.UPDATE
        return None

    def _earlier(self, tx: Tx, incident_id: int) -> tuple[list[Reference], bool]:
        """The messages already queued about this incident, and whether one was its Cancel."""
        c = outbound_table.c
        rows = tx.connection.execute(
            sa.select(c.identifier, c.created_at, c.kind)
            .where(c.destination == UPSTREAM, c.incident_id == incident_id, c.kind.in_(KINDS.values()))
            .order_by(c.id)
        ).all()
        references = [Reference(self.sender, identifier, created_at) for identifier, created_at, _ in rows]
        return references, any(kind == KINDS[MessageType.CANCEL] for _, _, kind in rows)

    def _enqueue(self, tx: Tx, incident_id: int, planned: Planned) -> None:
        incident = repository.incident(tx.connection, incident_id)
        message_type = planned.message_type
        message_id = new_message_id(tx)
        identifier = f"{self.sender}.{incident.id}.{message_id}"
        message = self._message(tx, incident, message_type, identifier, planned.earlier, planned.change)
        enqueue(
            tx,
            destination=UPSTREAM,
            kind=KINDS[message_type],
            identifier=identifier,
            path=CAP_PATH,
            content_type=CAP_CONTENT_TYPE,
            body=self._render(message),
            incident_id=incident.id,
            summary=f"{SUMMARY[message_type]} → {self.prefecture.name}（{message.category_name}）",
            message_id=message_id,
        )

    def _message(
        self,
        tx: Tx,
        incident: Incident,
        message_type: MessageType,
        identifier: str,
        earlier: list[Reference],
        change: str,
    ) -> UpstreamMessage:
        config = self.config
        category = config.category_by_id.get(incident.category)
        category_name = category.name if category is not None else incident.category
        place = config.jurisdiction_by_id[incident.jurisdiction_id]
        owner = config.jurisdiction_by_id.get(incident.owner_jurisdiction_id)
        lat = incident.lat if incident.lat is not None else place.center.lat
        lon = incident.lon if incident.lon is not None else place.center.lon
        owner_name = owner.name if owner is not None else incident.owner_jurisdiction_id
        return UpstreamMessage(
            message_type=message_type,
            sender=self.sender,
            identifier=identifier,
            sent=tx.now,
            addresses=self.prefecture.id,
            incident_id=incident.id,
            references=earlier,
            category=incident.category,
            category_name=category_name,
            severity=incident.severity,
            headline=incident.title or f"{place.name}{category_name}",
            description=f"{config.root.name} 事件 #{incident.id}：{category_name}，{place.name}，"
            f"当前状态 {incident.state}，责任单位 {owner_name}",
            state=incident.state,
            owner_tier=incident.owner_tier,
            owner=incident.owner_jurisdiction_id,
            change=change,
            area=place.name,
            lat=lat,
            lon=lon,
        )
