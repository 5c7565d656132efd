"""An incident's place as an EIDO location component: a PIDF-LO (RFC 4119) with point and civic address."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape, quoteattr

from dispatch.config.model import Config, Tier
from dispatch.storage.wire import IncidentFile

CIVIC_LEVEL = {Tier.CITY: "A3", Tier.TOWN: "A4", Tier.STREET: "A5"}
"""Our tiers as RFC 4776 civic address levels: county or city, township, community or village.

The prefecture above the city, when config names one, is A2."""

LOCATION_TYPE = "Incident"
"""The Location Type registry's word for where the incident is (no registry at hand to check it)."""


def civic_levels(config: Config, jurisdiction_id: str) -> list[tuple[str, str]]:
    """(level, name) from the prefecture down to the deepest jurisdiction holding the place."""
    levels = [("A2", config.prefecture.name)] if config.prefecture is not None else []
    if jurisdiction_id in config.jurisdiction_by_id:
        path = reversed(list(config.ancestors(jurisdiction_id)))
        levels += [(CIVIC_LEVEL[node.tier], node.name) for node in path]
    return levels


def pidf_lo(entity: str, incident: IncidentFile, levels: list[tuple[str, str]]) -> str:
    """The place as a PIDF-LO document: WGS 84 point (when known) and the civic address."""
    point = incident["location"]
    geometry = (
        '<gml:Point srsName="urn:ogc:def:crs:EPSG::4326">'
        f"<gml:pos>{point['lat']} {point['lon']}</gml:pos></gml:Point>"
        if point is not None
        else ""
    )
    civic = "".join(f"<ca:{level}>{escape(name)}</ca:{level}>" for level, name in levels)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<presence xmlns="urn:ietf:params:xml:ns:pidf" '
        'xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10" '
        'xmlns:ca="urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr" '
        f'xmlns:gml="http://www.opengis.net/gml" entity={quoteattr(entity)}>'
        f'<tuple id="incident-{incident["id"]}"><status><gp:geopriv><gp:location-info>'
        f'{geometry}<ca:civicAddress xml:lang="zh-CN"><ca:country>CN</ca:country>{civic}</ca:civicAddress>'
        "</gp:location-info><gp:usage-rules/></gp:geopriv></status>"
        f"<timestamp>{incident['first_alert_at']}</timestamp></tuple></presence>"
    )


def location_component(prologue: dict[str, Any], config: Config, incident: IncidentFile) -> dict[str, Any]:
    """The incident's place: PIDF-LO by value, and the jurisdictions' names in words."""
    levels = civic_levels(config, incident["jurisdiction"])
    words = " ".join(name for _level, name in levels)
    if incident["outside_area"]:
        words = f"{words}（不在任何辖区范围内）".strip()
    if incident["title"]:
        words = f"{words}：{incident['title']}"
    return {
        **prologue,
        "locationTypeDescriptionRegistryText": LOCATION_TYPE,
        "locationByValue": pidf_lo(f"pres:incident-{incident['id']}@{config.root.id}", incident, levels),
        "locationDescriptionText": words,
    }
