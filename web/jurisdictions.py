"""`GET /api/v1/jurisdictions`: the jurisdiction polygons of the caller's scope, as GeoJSON."""

from __future__ import annotations

from aiohttp import web

from dispatch.access import authz
from dispatch.access.authz import Action
from dispatch.config.model import TIER_ORDER, Config
from web.errors import json_response
from web.keys import RUNTIME
from web.openapi import operation
from web.people_schemas import JurisdictionCollection
from web.security import PRINCIPAL


def feature_collection(config: Config, ids: list[str] | None) -> JurisdictionCollection:
    """RFC 7946 GeoJSON, WGS-84 [lon, lat]; the city first, then towns, then streets."""
    wanted = None if ids is None else set(ids)
    nodes = sorted(
        (node for node in config.jurisdictions if wanted is None or node.id in wanted),
        key=lambda node: TIER_ORDER.index(node.tier),
    )
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": node.id,
                "properties": {
                    "id": node.id,
                    "name": node.name,
                    "tier": node.tier,
                    "parent": node.parent,
                    "center": {"lat": node.center.lat, "lon": node.center.lon},
                },
                "geometry": node.polygon.model_dump(),
            }
            for node in nodes
        ],
    }


@operation(
    "Jurisdiction polygons",
    tag="screens",
    actions=[Action.READ_MAP],
    description=(
        "GeoJSON of the caller's jurisdiction subtree (a responder: its unit's town): what the "
        "offline map draws, with names and tiers."
    ),
    responses={200: JurisdictionCollection},
)
async def jurisdictions(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    config = request.app[RUNTIME].config
    return json_response(feature_collection(config, authz.map_scope(principal, config)))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/jurisdictions", jurisdictions)
