"""CAP 1.2 written: an incident's message to the prefecture (dispatch/core/upstream.py) as XML."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from datetime import datetime
from zoneinfo import ZoneInfo

from dispatch.core.upstream import Reference, UpstreamMessage

NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"
SEVERITY = {1: "Extreme", 2: "Severe", 3: "Moderate", 4: "Minor"}
"""Our grade (1 = I) → CAP's severity; the inverse of gateways/cap_alert.py's."""
LANGUAGE = "zh-CN"


def cap_time(epoch: float, zone: ZoneInfo) -> str:
    """CAP's dateTime: whole seconds with a numeric offset (CAP forbids "Z"), in the server's zone."""
    text = datetime.fromtimestamp(int(epoch), zone).isoformat(timespec="seconds")
    return text.replace("Z", "+00:00")


def reference(each: Reference, zone: ZoneInfo) -> str:
    return f"{each.sender},{each.identifier},{cap_time(each.sent, zone)}"


def render(message: UpstreamMessage, zone: ZoneInfo) -> str:
    """The message as a CAP 1.2 document (UTF-8, with its XML declaration)."""
    alert = ElementTree.Element("alert", xmlns=NAMESPACE)
    _add(alert, "identifier", message.identifier)
    _add(alert, "sender", message.sender)
    _add(alert, "sent", cap_time(message.sent, zone))
    _add(alert, "status", "Actual")
    _add(alert, "msgType", message.message_type.value)
    _add(alert, "scope", "Private")
    _add(alert, "addresses", message.addresses)
    if message.references:
        _add(alert, "references", " ".join(reference(each, zone) for each in message.references))
    _add(alert, "incidents", str(message.incident_id))
    _info(alert, message)
    body: bytes = ElementTree.tostring(alert, encoding="utf-8", xml_declaration=True)
    return body.decode("utf-8")


def _info(alert: ElementTree.Element, message: UpstreamMessage) -> None:
    info = ElementTree.SubElement(alert, "info")
    _add(info, "language", LANGUAGE)
    _add(info, "category", "Other")
    _add(info, "event", message.category_name)
    _add(info, "urgency", "Immediate")
    _add(info, "severity", SEVERITY.get(message.severity, "Unknown"))
    _add(info, "certainty", "Observed")
    _pair(info, "eventCode", "dispatch:category", message.category)
    _add(info, "senderName", message.sender)
    _add(info, "headline", message.headline)
    _add(info, "description", message.description)
    for name, value in (
        ("dispatch:state", message.state),
        ("dispatch:owner_tier", message.owner_tier),
        ("dispatch:owner", message.owner),
        ("dispatch:change", message.change),
    ):
        _pair(info, "parameter", name, value)
    area = ElementTree.SubElement(info, "area")
    _add(area, "areaDesc", message.area)
    _add(area, "circle", f"{message.lat:.6f},{message.lon:.6f} 0")


def _add(parent: ElementTree.Element, tag: str, text: str) -> None:
    ElementTree.SubElement(parent, tag).text = text


def _pair(parent: ElementTree.Element, tag: str, name: str, value: str) -> None:
    element = ElementTree.SubElement(parent, tag)
    _add(element, "valueName", name)
    _add(element, "value", value)
