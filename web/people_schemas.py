"""Wire shapes of what the people's screens read that handlers build: the session, the map, tasks.

What views build is typed next to them (dispatch/views/tablet.py, dispatch/views/stats_shapes.py);
tests validate real answers against these with unknown keys refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from dispatch.config.model import Tier
from dispatch.config.screens import Language, TileCoordinates
from dispatch.shared.geo import Position
from dispatch.views.tablet import MyTask
from web.schemas import Wire

PeopleRole = Literal["admin", "dispatcher", "responder", "screen", "gateway"]


class SessionUser(Wire):
    name: str
    role: PeopleRole
    jurisdiction: str | None = Field(description="The subtree a dispatcher or screen sees; null: all.")
    responder: str | None = Field(description="A responder's unit id.")
    unit_name: str | None = Field(description="That unit's name.")


class MapOut(Wire):
    tile_url: str | None = Field(description="Tile layer template; null: polygons only.")
    tile_attribution: str
    tile_coordinates: TileCoordinates
    min_zoom: int
    max_zoom: int


class TierLabelsOut(Wire):
    city: str
    town: str
    street: str


class Settings(Wire):
    language: Language = Field(description="The screens' language until the user picks one.")
    timezone: str = Field(description="IANA zone of 'today'.")
    map: MapOut
    tier_labels: TierLabelsOut
    prefecture: str | None
    root: str = Field(description="The city's jurisdiction id.")


class CategoryName(Wire):
    id: str
    name: str
    name_en: str | None
    department: str
    default_severity: int


class DepartmentName(Wire):
    id: str
    name: str
    name_en: str | None


class JurisdictionName(Wire):
    id: str
    name: str
    tier: Tier
    parent: str | None


class Catalog(Wire):
    categories: list[CategoryName]
    departments: list[DepartmentName]
    jurisdictions: list[JurisdictionName]


class SessionInfo(Wire):
    """Who is logged in, and what its screen needs to draw."""

    user: SessionUser
    csrf_token: str | None = Field(description="Send it as X-CSRF-Token with every change; null for a token.")
    expires_at: datetime | None = Field(description="When the session ends; null for a token.")
    home: str | None = Field(description="The caller's screen: /console/, /tablet/ or /screen/.")
    settings: Settings
    catalog: Catalog


class LoggedOut(Wire):
    ended: bool = Field(description="False when the session had ended already.")


# The map ---------------------------------------------------------------------------------------


class JurisdictionProperties(Wire):
    id: str
    name: str
    tier: Tier
    parent: str | None
    center: Position


class JurisdictionFeature(Wire):
    type: Literal["Feature"]
    id: str
    properties: JurisdictionProperties
    geometry: dict[str, Any] = Field(description="GeoJSON Polygon or MultiPolygon, [lon, lat].")


class JurisdictionCollection(Wire):
    """GeoJSON (RFC 7946), WGS-84; the city first, then towns, then streets."""

    type: Literal["FeatureCollection"]
    features: list[JurisdictionFeature]


# A responder's tasks ---------------------------------------------------------------------------


class MyTasks(Wire):
    """The caller's open tasks and those ended in the last day, newest first."""

    last_seq: int = Field(description="Resume the WebSocket after this sequence number.")
    responder: str
    tasks: list[MyTask]
