"""CAP 1.2 (OASIS Common Alerting Protocol) warnings translated into alerts.

One CAP message is one alert, however many `info` blocks (one per language) it carries: its
`sender` is the alert's source and its `identifier` the sender's event id. An `Update` is a
new alert from the same sender, so intake correlates it into the incident the earlier one
opened; it lists what it replaces under the `supersedes` attribute, so that cancelling it
cancels those too. A `Cancel` names what it withdraws in `references`. A reference is a
(sender, identifier, sent) triple, and a sender speaks only for itself: references to another
sender's messages are ignored (and reported), never followed. The XML is parsed with defusedxml
and no DTD at all (gateways/cap_xml.py): CAP needs none, and entity bombs or external entities
are refused. The infos become the alert in gateways/cap_alert.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from dispatch.config.model import CapGateway
from dispatch.intake.alerts import AlertIn
from dispatch.intake.wire_limits import TimeWindow
from dispatch.shared.errors import InvalidInput
from gateways.cap_alert import to_alert
from gateways.cap_xml import CapElement, cap_time, parse

NAMESPACES = ("urn:oasis:names:tc:emergency:cap:1.2", "urn:oasis:names:tc:emergency:cap:1.1")
FORECASTS = ("effective", "onset", "expires")


class MessageType(StrEnum):
    ALERT = "Alert"
    UPDATE = "Update"
    CANCEL = "Cancel"
    ACK = "Ack"
    ERROR = "Error"


class ReferenceIgnored(StrEnum):
    """Why a reference of an Update or Cancel was not followed."""

    OTHER_SENDER = "other_sender"
    """It names another sender's message: a sender updates and withdraws only its own."""
    NOT_RECEIVED = "not_received"
    """No CAP alert of this sender with that identifier was received."""


@dataclass(frozen=True)
class Reference:
    """One `sender,identifier,sent` triple of `references`."""

    sender: str
    identifier: str
    sent: str


@dataclass(frozen=True)
class CapMessage:
    """What a CAP message asks of us."""

    message_type: MessageType
    sender: str
    identifier: str
    references: list[Reference] = field(default_factory=list)
    alert: AlertIn | None = None
    """Alert and Update: the alert to receive."""
    ignored: str | None = None
    """Why nothing is to be done (a Test or Exercise message, an Ack, an Error)."""
    sent: datetime | None = None
    """When the sender sent it (`sent`)."""
    forecasts: list[tuple[str, datetime]] = field(default_factory=list)
    """Each info's effective, onset and expires, with its field: times that look ahead."""

    @property
    def own_references(self) -> list[Reference]:
        """The references to this sender's own messages: the only ones followed."""
        return [each for each in self.references if each.sender == self.sender]

    @property
    def foreign_references(self) -> list[Reference]:
        return [each for each in self.references if each.sender != self.sender]


def translate(raw: bytes, settings: CapGateway) -> CapMessage:
    """One CAP 1.2 message (the XML as received) → what to do with it."""
    root = parse(raw)
    namespace, _, local = root.tag[1:].partition("}") if root.tag.startswith("{") else ("", "", root.tag)
    if local != "alert" or namespace not in NAMESPACES:
        raise InvalidInput(
            f"expected a CAP 1.2 <alert> in namespace {NAMESPACES[0]}, found {root.tag}", field="alert"
        )
    message = CapElement(root, namespace)
    identifier = message.required("identifier")
    sender = message.required("sender")
    sent = cap_time(message.required("sent"), "sent")
    status = message.required("status")
    message_type = _message_type(message.required("msgType"))
    references = _references(message.text("references"))
    if message_type in (MessageType.UPDATE, MessageType.CANCEL) and not references:
        raise InvalidInput(
            f"a {message_type} message needs references to earlier messages", field="references"
        )
    infos = message.children("info")
    forecasts = [
        (f"info.{name}", cap_time(text, f"info.{name}"))
        for info in infos
        for name in FORECASTS
        if (text := info.text(name)) is not None
    ]
    ignored: str | None = None
    alert: AlertIn | None = None
    if status != "Actual":
        ignored = f"status {status}"
    elif message_type in (MessageType.ACK, MessageType.ERROR):
        ignored = f"msgType {message_type}"
    elif message_type != MessageType.CANCEL:
        if not infos:
            raise InvalidInput(f"an {message_type} message needs at least one info block", field="info")
        alert = _alert(message, infos, settings, sender, identifier, sent, references)
    return CapMessage(
        message_type, sender, identifier, references, alert, ignored, sent=sent, forecasts=forecasts
    )


def check_times(message: CapMessage, window: TimeWindow) -> None:
    """InvalidInput naming the first time outside the window (effective, onset, expires look ahead)."""
    if message.sent is not None:
        window.check(message.sent, "sent")
    for name, moment in message.forecasts:
        window.check(moment, name, forecast=True)


def _message_type(value: str) -> MessageType:
    try:
        return MessageType(value)
    except ValueError as err:
        raise InvalidInput(f"unknown msgType {value!r}", field="msgType") from err


def _references(value: str | None) -> list[Reference]:
    references: list[Reference] = []
    for triple in (value or "").split():
        parts = triple.split(",")
        if len(parts) != 3 or not all(parts):
            raise InvalidInput(f"references: {triple!r} is not sender,identifier,sent", field="references")
        references.append(Reference(*parts))
    return references


def _alert(
    message: CapElement,
    infos: list[CapElement],
    settings: CapGateway,
    sender: str,
    identifier: str,
    sent: datetime,
    references: list[Reference],
) -> AlertIn:
    header: dict[str, Any] = {
        "identifier": identifier,
        "sender": sender,
        "sent": message.required("sent"),
        "status": message.required("status"),
        "msgType": message.required("msgType"),
        "scope": message.text("scope"),
        "source": message.text("source"),
        "references": [[r.sender, r.identifier, r.sent] for r in references],
        "incidents": message.text("incidents"),
    }
    return to_alert(
        infos,
        settings,
        sender=sender,
        identifier=identifier,
        sent=sent,
        header=header,
        supersedes=[[r.sender, r.identifier] for r in references if r.sender == sender],
    )
