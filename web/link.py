"""`GET /api/v1/link`: the links to other servers (the prefecture, counties, departments' webhooks)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from typing_extensions import TypedDict

from dispatch.access.authz import Action
from dispatch.core.outbound import destinations
from dispatch.views.link import link_status
from web.errors import json_response
from web.keys import RUNTIME
from web.openapi import operation


class LinkDestination(TypedDict):
    destination: str
    """upstream, county:<id> or department:<id>."""
    name: str
    url: str
    state: str
    """up, down (the oldest waiting message failed at least once) or idle (nothing sent yet)."""
    queued: int
    oldest_queued_at: str | None
    last_delivered_at: str | None
    last_error: str | None
    attempts: int
    """Failed attempts of the oldest waiting message."""
    next_try_at: str | None


class LinkStatus(TypedDict):
    destinations: list[LinkDestination]


@operation(
    "Links to other servers",
    tag="screens",
    actions=[Action.READ_LINK],
    description=(
        "Each destination of the outbox that config.yaml names (the prefecture above as "
        "`upstream`, the counties below as `county:<id>`, departments' webhooks as "
        "`department:<id>`): whether it answers, how many messages wait for it and since when, "
        "when it last took one, and the last error. The console polls it every few seconds."
    ),
    responses={200: LinkStatus},
)
async def link(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    wanted = destinations(runtime.config)
    body: dict[str, Any] = await runtime.read(lambda connection: link_status(connection, wanted))
    return json_response(body)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/link", link)
