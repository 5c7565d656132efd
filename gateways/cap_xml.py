"""CAP's XML: parsed safely (no DTD, no entities), and read child by child within its namespace."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from datetime import datetime

import defusedxml
import defusedxml.ElementTree as SafeElementTree

from dispatch.shared.errors import DispatchError, InvalidInput


class MalformedXml(DispatchError):
    """The body is not a well-formed XML document (or not UTF-8)."""

    status = 400
    code = "malformed_xml"


class ForbiddenXml(DispatchError):
    """The document declares a DTD or entities: refused before anything is expanded or fetched."""

    status = 400
    code = "forbidden_xml"


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


class CapElement:
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

    def children(self, name: str) -> list[CapElement]:
        return [CapElement(child, self.namespace) for child in self.element.findall(self._tag(name))]

    def pairs(self, name: str) -> list[tuple[str, str]]:
        """valueName/value children (parameter, eventCode, geocode)."""
        return [(child.text("valueName") or "", child.text("value") or "") for child in self.children(name)]


def cap_time(value: str, name: str) -> datetime:
    """A CAP date-time, which must carry its UTC offset."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as err:
        raise InvalidInput(f"<{name}> is not a CAP date-time: {value!r}", field=name) from err
    if moment.tzinfo is None:
        raise InvalidInput(f"<{name}> needs a UTC offset: {value!r}", field=name)
    return moment
