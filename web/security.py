"""Authentication: a bearer token names a principal; roles gate each route."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from dispatch.auth import Principal
from dispatch.authz import Action, require
from web.errors import Handler, error_response

# /ws authenticates itself: browsers cannot set headers on a WebSocket, so they send an
# auth message instead (web/ws.py).
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/ws", "/api/openapi.json", "/api/docs"})
# Static files are public by the resource the router matched, never by a raw path prefix.
PUBLIC_RESOURCES = frozenset({"/api/docs/assets"})
CACHE_SECONDS = 30.0

PRINCIPAL = web.RequestKey("principal", Principal)
Lookup = Callable[[str], Awaitable[Principal | None]]


class TokenCache:
    """Known tokens for a short while, so intake does not read the token table per request."""

    def __init__(self, lookup: Lookup) -> None:
        self._lookup = lookup
        self._known: dict[str, tuple[Principal, float]] = {}

    async def principal(self, token: str) -> Principal | None:
        hit = self._known.get(token)
        now = time.monotonic()
        if hit is not None and hit[1] > now:
            return hit[0]
        principal = await self._lookup(token)
        if principal is not None:
            if len(self._known) > 10_000:
                self._known.clear()
            self._known[token] = (principal, now + CACHE_SECONDS)
        return principal


TOKENS = web.AppKey("tokens", TokenCache)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    resource = request.match_info.route.resource
    if request.path in PUBLIC_PATHS or (resource is not None and resource.canonical in PUBLIC_RESOURCES):
        return await handler(request)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _unauthorized("send Authorization: Bearer <token>")
    principal = await request.app[TOKENS].principal(token.strip())
    if principal is None:
        return _unauthorized("unknown token")
    request[PRINCIPAL] = principal
    return await handler(request)


def _unauthorized(message: str) -> web.Response:
    response = error_response(401, "unauthorized", message, "Authorization")
    response.headers["WWW-Authenticate"] = 'Bearer realm="dispatch"'
    return response


def authorize(request: web.Request, action: Action) -> Principal:
    """The caller, when its role may take `action` (dispatch/authz.py decides); 403 otherwise."""
    return require(request[PRINCIPAL], action)
