"""A CAP message's info blocks as one alert: its category, severity, place, title and text."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError
from shapely.geometry import Polygon

from dispatch.config.model import CapGateway
from dispatch.intake.alerts import AlertIn, AlertKind
from dispatch.intake.status import SUPERSEDES
from dispatch.intake.wire_limits import check_free_form
from dispatch.shared.errors import InvalidInput
from dispatch.shared.geo import Position
from gateways.cap_xml import CapElement

TITLE_MAX = 200
DESCRIPTION_MAX = 4000

# CAP severity → our grade (1 = I, most severe); Unknown takes the category's default.
SEVERITY = {"Extreme": 1, "Severe": 2, "Moderate": 3, "Minor": 4}


def to_alert(
    infos: list[CapElement],
    settings: CapGateway,
    *,
    sender: str,
    identifier: str,
    sent: datetime,
    header: dict[str, Any],
    supersedes: list[list[str]],
) -> AlertIn:
    """The alert of a message whose `header` (its `cap` attributes but the infos) is given."""
    described = [_info(info) for info in infos]
    severities = [SEVERITY[each["severity"]] for each in described if each["severity"] in SEVERITY]
    first = described[0]
    position, jurisdiction = _place(infos, settings)
    attributes: dict[str, Any] = {"cap": {**header, "info": described}}
    if supersedes:
        attributes[SUPERSEDES] = supersedes
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


def _place(infos: list[CapElement], settings: CapGateway) -> tuple[Position | None, str | None]:
    """Where: a point of the areas, and the jurisdiction a known geocode (or the default) names."""
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
    return position, jurisdiction


def _info(info: CapElement) -> dict[str, Any]:
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


def _area(infos: list[CapElement]) -> tuple[Position | None, list[tuple[str, str]]]:
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
