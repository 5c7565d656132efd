"""Wire shapes of what the people's screens read that handlers build: the session, the map, tasks.

Each is a typed dict the handler builds (mypy refuses a missing or extra key) and OpenAPI
documents; what views build is typed next to them (dispatch/views/tablet.py,
dispatch/views/stats_shapes.py). Tests validate real answers against these, unknown keys refused.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, with_config
from typing_extensions import TypedDict

from dispatch.config.model import Tier
from dispatch.config.screens import Language, TileCoordinates
from dispatch.storage.wire import FORBID, Moment, Where
from dispatch.views.tablet import MyTask

PeopleRole = Literal["admin", "dispatcher", "responder", "screen", "gateway"]


@with_config(FORBID)
class SessionUser(TypedDict):
    name: str
    role: PeopleRole
    jurisdiction: Annotated[
        str | None, Field(description="The subtree a dispatcher or screen sees; null: all.")
    ]
    responder: Annotated[str | None, Field(description="A responder's unit id.")]
    department: Annotated[
        str | None,
        Field(
            description="A department dispatcher's department (its sub-center, 分中心): it sees the "
            "incidents that department leads or co-handles and works its department tasks; null: none."
        ),
    ]
    unit_name: Annotated[str | None, Field(description="That unit's name.")]


@with_config(FORBID)
class MapOut(TypedDict):
    tile_url: Annotated[str | None, Field(description="Tile layer template; null: polygons only.")]
    tile_attribution: str
    tile_coordinates: TileCoordinates
    min_zoom: int
    max_zoom: int


@with_config(FORBID)
class TierLabelsOut(TypedDict):
    city: str
    town: str
    street: str


@with_config(FORBID)
class Settings(TypedDict):
    language: Annotated[Language, Field(description="The screens' language until the user picks one.")]
    timezone: Annotated[str, Field(description="IANA zone of 'today'.")]
    map: MapOut
    tier_labels: TierLabelsOut
    prefecture: str | None
    root: Annotated[str, Field(description="The city's jurisdiction id.")]


@with_config(FORBID)
class CategoryName(TypedDict):
    id: str
    name: str
    name_en: str | None
    department: str
    default_severity: int


@with_config(FORBID)
class DepartmentName(TypedDict):
    id: str
    name: str
    name_en: str | None


@with_config(FORBID)
class JurisdictionName(TypedDict):
    id: str
    name: str
    tier: Tier
    parent: str | None


@with_config(FORBID)
class Catalog(TypedDict):
    categories: list[CategoryName]
    departments: list[DepartmentName]
    jurisdictions: list[JurisdictionName]


@with_config(FORBID)
class SessionInfo(TypedDict):
    """Who is logged in, and what its screen needs to draw."""

    user: SessionUser
    csrf_token: Annotated[
        str | None, Field(description="Send it as X-CSRF-Token with every change; null for a token.")
    ]
    expires_at: Annotated[Moment | None, Field(description="When the session ends; null for a token.")]
    home: Annotated[str | None, Field(description="The caller's screen: /console/, /tablet/ or /screen/.")]
    settings: Settings
    catalog: Catalog


@with_config(FORBID)
class LoggedOut(TypedDict):
    ended: Annotated[bool, Field(description="False when the session had ended already.")]


# The map ---------------------------------------------------------------------------------------


@with_config(FORBID)
class JurisdictionProperties(TypedDict):
    id: str
    name: str
    tier: Tier
    parent: str | None
    center: Where


@with_config(FORBID)
class JurisdictionFeature(TypedDict):
    type: Literal["Feature"]
    id: str
    properties: JurisdictionProperties
    geometry: Annotated[dict[str, Any], Field(description="GeoJSON Polygon or MultiPolygon, [lon, lat].")]


@with_config(FORBID)
class JurisdictionCollection(TypedDict):
    """GeoJSON (RFC 7946), WGS-84; the city first, then towns, then streets."""

    type: Literal["FeatureCollection"]
    features: list[JurisdictionFeature]


# A responder's tasks ---------------------------------------------------------------------------


@with_config(FORBID)
class MyTasks(TypedDict):
    """The caller's open tasks and those ended in the last day, newest first."""

    last_seq: Annotated[int, Field(description="Resume the WebSocket after this sequence number.")]
    responder: str
    tasks: list[MyTask]
