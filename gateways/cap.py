"""CAP 1.2 (OASIS Common Alerting Protocol) warnings translated into alerts.

One CAP message is one alert, however many `info` blocks (one per language) it carries: its
`sender` is the alert's source and its `identifier` the sender's event id. An `Update` is a
new alert from the same sender, so intake correlates it into the incident the earlier one
opened; it lists what it replaces under the `supersedes` attribute, so that cancelling it
cancels those too. A `Cancel` names what it withdraws in `references`. A reference is a
(sender, identifier, sent) triple, and a sender speaks only for itself: references to another
sender's messages are ignored (and reported), never followed. The XML is parsed with
defusedxml and no DTD at all: CAP needs none, and entity bombs or external entities are refused.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import defusedxml
import defusedxml.ElementTree as SafeElementTree
from pydantic import ValidationError
from shapely.geometry import Polygon

from dispatch.config.model import CapGateway
from dispatch.intake.alerts import AlertIn, AlertKind
from dispatch.intake.status import SUPERSEDES
from dispatch.intake.wire_limits import TimeWindow, check_free_form
from dispatch.shared.errors import DispatchError, InvalidInput
from dispatch.shared.geo import Position

NAMESPACES = ("urn:oasis:names:tc:emergency:cap:1.2", "urn:oasis:names:tc:emergency:cap:1.1")
TITLE_MAX = 200
DESCRIPTION_MAX = 4000

# CAP severity → our grade (1 = I, most severe); Unknown takes the category's default.
SEVERITY = {"Extreme": 1, "Severe": 2, "Moderate": 3, "Minor": 4}
FORECASTS = ("effective", "onset", "expires")


class MalformedXml(DispatchError):
    """The body is not a well-formed XML document (or not UTF-8)."""

    status = 400
    code = "malformed_xml"


class ForbiddenXml(DispatchError):
    """The document declares a DTD or entities: refused before anything is expanded or fetched."""

    status = 400
    code = "forbidden_xml"


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


def parse(raw: bytes) -> ElementTree.Element:
    """The document's root; foreign parser errors become ours, once, here."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise MalformedXml(f"CAP messages are UTF-8; byte {err.start} is not") from err
    try:
        root: ElementTree.Element = SafeElementTree.fromstring(raw, forbid_dtd=True)
    except defusedxml.DefusedXmlException as err:
        raise ForbiddenXml(f"DTDs and entities are not accepted in CAP messages ({err})") from err
    except ElementTree.ParseError as err:
        raise MalformedXml(f"the body is not well-formed XML: {err}") from err
    return root


def translate(raw: bytes, settings: CapGateway) -> CapMessage:
    """One CAP 1.2 message (the XML as received) → what to do with it."""
    root = parse(raw)
    namespace, _, local = root.tag[1:].partition("}") if root.tag.startswith("{") else ("", "", root.tag)
    if local != "alert" or namespace not in NAMESPACES:
        raise InvalidInput(
            f"expected a CAP 1.2 <alert> in namespace {NAMESPACES[0]}, found {root.tag}", field="alert"
        )
    message = _Message(root, namespace)
    identifier = message.required("identifier")
    sender = message.required("sender")
    sent = _time(message.required("sent"), "sent")
    status = message.required("status")
    message_type = _message_type(message.required("msgType"))
    references = _references(message.text("references"))
    if message_type in (MessageType.UPDATE, MessageType.CANCEL) and not references:
        raise InvalidInput(
            f"a {message_type} message needs references to earlier messages", field="references"
        )
    infos = message.children("info")
    forecasts = [
        (f"info.{name}", _time(text, f"info.{name}"))
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


# The pieces ---------------------------------------------------------------------------------------


class _Message:
    """Namespace-aware access to one element's children."""

    def __init__(self, element: ElementTree.Element, namespace: str) -> None:
        self.element = element
        self.namespace = namespace

    def _tag(self, name: str) -> str:
        return f"{{{self.namespace}}}{name}" if self.namespace else name

    def text(self, name: str) -> str | None:
        child = self.element.find(self._tag(name))
        if child is None or child.text is None:
            return None
        return child.text.strip() or None

    def texts(self, name: str) -> list[str]:
        return [
            child.text.strip()
            for child in self.element.findall(self._tag(name))
            if child.text is not None and child.text.strip()
        ]

    def required(self, name: str) -> str:
        value = self.text(name)
        if value is None:
            raise InvalidInput(f"<{name}> is required", field=name)
        return value

    def children(self, name: str) -> list[_Message]:
        return [_Message(child, self.namespace) for child in self.element.findall(self._tag(name))]

    def pairs(self, name: str) -> list[tuple[str, str]]:
        """valueName/value children (parameter, eventCode, geocode)."""
        return [(child.text("valueName") or "", child.text("value") or "") for child in self.children(name)]


def _message_type(value: str) -> MessageType:
    try:
        return MessageType(value)
    except ValueError as err:
        raise InvalidInput(f"unknown msgType {value!r}", field="msgType") from err


def _time(value: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as err:
        raise InvalidInput(f"<{name}> is not a CAP date-time: {value!r}", field=name) from err
    if moment.tzinfo is None:
        raise InvalidInput(f"<{name}> needs a UTC offset: {value!r}", field=name)
    return moment


def _references(value: str | None) -> list[Reference]:
    references: list[Reference] = []
    for triple in (value or "").split():
        parts = triple.split(",")
        if len(parts) != 3 or not all(parts):
            raise InvalidInput(f"references: {triple!r} is not sender,identifier,sent", field="references")
        references.append(Reference(*parts))
    return references


def _alert(
    message: _Message,
    infos: list[_Message],
    settings: CapGateway,
    sender: str,
    identifier: str,
    sent: datetime,
    references: list[Reference],
) -> AlertIn:
    described = [_info(info) for info in infos]
    severities = [SEVERITY[each["severity"]] for each in described if each["severity"] in SEVERITY]
    first = described[0]
    position, geocodes = _area(infos)
    jurisdiction = next(
        (
            settings.geocodes[key]
            for name, value in geocodes
            for key in (f"{name}:{value}", value)
            if key in settings.geocodes
        ),
        None,
    )
    if position is None and jurisdiction is None:
        jurisdiction = settings.default_jurisdiction
        if jurisdiction is None:
            raise InvalidInput(
                "no polygon, circle or known geocode in any area, and no cap.default_jurisdiction",
                field="info.area",
            )
    attributes: dict[str, Any] = {
        "cap": {
            "identifier": identifier,
            "sender": sender,
            "sent": message.required("sent"),
            "status": message.required("status"),
            "msgType": message.required("msgType"),
            "scope": message.text("scope"),
            "source": message.text("source"),
            "references": [[r.sender, r.identifier, r.sent] for r in references],
            "incidents": message.text("incidents"),
            "info": described,
        }
    }
    own = [r for r in references if r.sender == sender]
    if own:
        attributes[SUPERSEDES] = [[r.sender, r.identifier] for r in own]
    try:
        return AlertIn(
            source=sender,
            source_event_id=identifier,
            kind=AlertKind.CAP,
            category=_category(described, settings),
            severity=min(severities) if severities else None,
            location=position,
            jurisdiction=jurisdiction,
            observed_at=sent,
            title=_clip(first["headline"] or first["event"], TITLE_MAX),
            description=_clip(first["description"], DESCRIPTION_MAX),
            attributes=attributes,
        )
    except ValidationError as err:
        problem = err.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise InvalidInput(f"{where}: {problem['msg']}", field=where) from err


def _info(info: _Message) -> dict[str, Any]:
    parameters = [list(pair) for pair in info.pairs("parameter")]
    check_free_form(parameters, "info.parameter")
    return {
        "language": info.text("language") or "en-US",
        "category": info.texts("category"),
        "event": info.text("event"),
        "urgency": info.text("urgency"),
        "severity": info.text("severity"),
        "certainty": info.text("certainty"),
        "headline": info.text("headline"),
        "description": info.text("description"),
        "instruction": info.text("instruction"),
        "sender_name": info.text("senderName"),
        "event_codes": [list(pair) for pair in info.pairs("eventCode")],
        "parameters": parameters,
        "effective": info.text("effective"),
        "onset": info.text("onset"),
        "expires": info.text("expires"),
        "areas": [area.text("areaDesc") for area in info.children("area")],
    }


def _category(described: list[dict[str, Any]], settings: CapGateway) -> str:
    mapping = {key.casefold(): value for key, value in settings.categories.items()}
    for info in described:
        if info["event"] and info["event"].casefold() in mapping:
            return mapping[info["event"].casefold()]
    for info in described:
        for code in info["category"]:
            if code.casefold() in mapping:
                return mapping[code.casefold()]
    if settings.default_category is None:
        events = ", ".join(sorted({info["event"] or "?" for info in described}))
        raise InvalidInput(
            f"no category for CAP event {events}: map it in cap.categories", field="info.event"
        )
    return settings.default_category


def _area(infos: list[_Message]) -> tuple[Position | None, list[tuple[str, str]]]:
    """The first polygon's centroid or circle's center, and every geocode, across all infos."""
    position: Position | None = None
    geocodes: list[tuple[str, str]] = []
    for info in infos:
        for area in info.children("area"):
            geocodes.extend(area.pairs("geocode"))
            if position is not None:
                continue
            for polygon in area.texts("polygon"):
                position = _centroid(polygon)
                break
            else:
                for circle in area.texts("circle"):
                    center, _, _radius = circle.partition(" ")
                    position = _point(center, "info.area.circle")
                    break
    return position, geocodes


def _centroid(text: str) -> Position:
    points = [_point(pair, "info.area.polygon") for pair in text.split()]
    if len(points) < 4 or points[0] != points[-1]:
        raise InvalidInput(
            "a CAP polygon needs at least 4 points, the last equal to the first", field="info.area.polygon"
        )
    shape = Polygon([(point.lon, point.lat) for point in points])
    if shape.area > 0:
        centre = shape.centroid
        return _position(centre.y, centre.x, "info.area.polygon")
    # A degenerate ring (a line, one point repeated): the mean of its corners.
    corners = points[:-1]
    return _position(
        sum(p.lat for p in corners) / len(corners),
        sum(p.lon for p in corners) / len(corners),
        "info.area.polygon",
    )


def _point(pair: str, where: str) -> Position:
    lat, _, lon = pair.partition(",")
    try:
        return _position(float(lat), float(lon), where)
    except ValueError as err:
        raise InvalidInput(f"{where}: {pair!r} is not lat,lon", field=where) from err


def _position(lat: float, lon: float, where: str) -> Position:
    try:
        return Position(lat=lat, lon=lon)
    except ValidationError as err:
        raise InvalidInput(f"{where}: {lat},{lon} is not a WGS-84 point", field=where) from err


def _clip(text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    return text if len(text) <= limit else text[: limit - 1] + "…"
