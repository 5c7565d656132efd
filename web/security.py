"""Authentication: a bearer token (machines) or a session cookie (people) names a principal.

A request authenticated by its cookie must also prove it comes from our own page when it
changes anything: the page sends the session's CSRF token in `X-CSRF-Token` (a synchronizer
token; the cookie is SameSite=Strict as well, so two locks must both fail).
"""

from __future__ import annotations

import hmac
import ipaddress
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from aiohttp import web

from dispatch.access.accounts import Session
from dispatch.access.auth import Principal
from dispatch.access.authz import may, require
from dispatch.access.tokens import EXPIRED, REVOKED, TokenGrant
from web.errors import Handler, error_response
from web.keys import RUNTIME
from web.openapi import described

# /ws authenticates itself: browsers cannot set headers on a WebSocket, so they send an
# auth message or their cookie instead (web/ws.py). The people's pages are shells without
# data (web/pages.py); their script asks the API, which checks who is asking.
PUBLIC_PATHS = frozenset(
    {
        "/healthz",
        "/readyz",
        "/ws",
        "/api/openapi.json",
        "/api/docs",
        "/",
        "/api/v1/session",
        "/ui/i18n/{language}.json",
        "/console/",
        "/console/report",
        "/tablet/",
        "/tablet/sw.js",
        "/tablet/manifest.webmanifest",
        "/screen/",
    }
)
# Static files are public by the resource the router matched, never by a raw path prefix.
PUBLIC_RESOURCES = frozenset({"/api/docs/assets", "/static", "/static/vendor/leaflet"})
CACHE_SECONDS = 30.0
SESSION_CACHE_SECONDS = 10.0
"""A session ended elsewhere (`dispatch user disable`) stops working within this long."""
COOKIE = "dispatch_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_EXEMPT = frozenset({("POST", "/api/v1/session")})
"""Logging in: it carries a password, and its Origin is checked (web/sessions.py)."""

PRINCIPAL = web.RequestKey("principal", Principal)
SESSION = web.RequestKey("session", Session)
"""Set when the principal came from a session cookie."""

K = TypeVar("K")


class _Cache(Generic[K]):
    """Known credentials for a short while, so intake does not read a table per request."""

    def __init__(
        self,
        lookup: Callable[[str], Awaitable[K | None]],
        seconds: float,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lookup = lookup
        self._seconds = seconds
        self._now = now
        self._known: dict[str, tuple[K, float]] = {}

    async def get(self, key: str) -> K | None:
        hit = self._known.get(key)
        now = self._now()
        if hit is not None and hit[1] > now:
            return hit[0]
        found = await self._lookup(key)
        if found is not None:
            if len(self._known) > 10_000:
                self._known.clear()
            self._known[key] = (found, now + self._seconds)
        else:
            self._known.pop(key, None)
        return found

    def forget(self, key: str) -> None:
        self._known.pop(key, None)


class TokenCache(_Cache[TokenGrant]):
    def __init__(
        self, lookup: Callable[[str], Awaitable[TokenGrant | None]], now: Callable[[], float] = time.time
    ) -> None:
        super().__init__(lookup, CACHE_SECONDS, now)
        self.used: dict[str, float] = {}
        """Token hash → when it was last accepted; dispatch/access/credentials.py stores and clears it."""

    async def check(self, token: str) -> tuple[Principal | None, str]:
        """The token's principal; or None and why not: unknown, `token expired`, `token revoked`."""
        grant = await self.get(token)
        if grant is None:
            return None, "unknown token"
        now = self._now()
        refusal = grant.refusal(now)
        if refusal is not None:
            return None, refusal
        self.used[grant.hash] = now
        return grant.principal, ""

    async def principal(self, token: str) -> Principal | None:
        return (await self.check(token))[0]


class SessionCache(_Cache[Session]):
    def __init__(self, lookup: Callable[[str], Awaitable[Session | None]], now: Callable[[], float]) -> None:
        super().__init__(lookup, SESSION_CACHE_SECONDS, now)

    async def session(self, session_id: str) -> Session | None:
        session = await self.get(session_id)
        if session is not None and session.expires_at <= self._now():
            self.forget(session_id)
            return None
        return session


TOKENS = web.AppKey("tokens", TokenCache)
SESSIONS = web.AppKey("sessions", SessionCache)


def _is_public(request: web.Request) -> bool:
    resource = request.match_info.route.resource
    canonical = resource.canonical if resource is not None else None
    return canonical in PUBLIC_PATHS or canonical in PUBLIC_RESOURCES


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.match_info.http_exception is not None:
        return await handler(request)  # no such path (404) or method (405): nothing to protect
    public = _is_public(request)
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        bearer = scheme.lower() == "bearer" and bool(token.strip())
        principal, refusal = await request.app[TOKENS].check(token.strip()) if bearer else (None, "")
        if principal is not None:
            request[PRINCIPAL] = principal
        elif not public:  # public routes answer anyone (/ws checks its header itself)
            return token_refused(refusal) if bearer else _unauthorized("send Authorization: Bearer <token>")
        return await handler(request)
    cookie = request.cookies.get(COOKIE)
    session = await request.app[SESSIONS].session(cookie) if cookie else None
    if session is not None:
        if request.method not in SAFE_METHODS and (request.method, _canonical(request)) not in CSRF_EXEMPT:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
                return error_response(
                    403,
                    "csrf",
                    f"a change made with the session cookie needs the {CSRF_HEADER} header of this session",
                    CSRF_HEADER,
                )
        request[PRINCIPAL] = session.principal
        request[SESSION] = session
        return await handler(request)
    if public:
        return await handler(request)
    return _unauthorized("log in, or send Authorization: Bearer <token>")


def _canonical(request: web.Request) -> str | None:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else None


def _unauthorized(message: str, code: str = "unauthorized") -> web.Response:
    response = error_response(401, code, message, "Authorization")
    response.headers["WWW-Authenticate"] = 'Bearer realm="dispatch"'
    return response


def token_refused(refusal: str) -> web.Response:
    """401 naming why a bearer token is refused: unknown, expired (ask for a new one) or revoked."""
    if refusal == EXPIRED:
        return _unauthorized("token expired: ask for a new one (dispatch token issue)", "token_expired")
    if refusal == REVOKED:
        return _unauthorized("token revoked: ask for a new one (dispatch token issue)", "token_revoked")
    return _unauthorized(refusal)


@web.middleware
async def authz_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The caller's role may take one of the actions the route's `@operation` names; 403 otherwise."""
    found = described(request.match_info.handler)
    actions = found.actions if found is not None and not found.service_decides else ()
    principal = request.get(PRINCIPAL)
    # No principal: a public route, which names no action (auth_middleware answered 401 otherwise).
    if actions and principal is not None and not any(may(principal, action) for action in actions):
        require(principal, actions[0])  # raises Forbidden naming the first action
    return await handler(request)


def origin_allowed(request: web.Request) -> bool:
    """A browser's Origin: the address this connection reached, or one in websocket.allowed_origins.

    Never the request's Host header: a page of evil.example whose name resolves to this server
    (DNS rebinding) sends `Host: evil.example` and `Origin: http://evil.example` alike.
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser: tablets' native clients, services
    origin = origin.strip().lower()
    allowed = {
        each.strip().rstrip("/").lower() for each in request.app[RUNTIME].config.websocket.allowed_origins
    }
    return origin in allowed or origin in own_origins(request)


LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
"""One loopback address is all of them: a page of ours at http://localhost:8080 reaches 127.0.0.1."""


def own_origins(request: web.Request) -> frozenset[str]:
    """The origins of the local address and port the connection arrived on (its socket, not a header)."""
    transport = request.transport
    address = transport.get_extra_info("sockname") if transport is not None else None
    if not isinstance(address, tuple) or len(address) < 2:
        return frozenset()  # a Unix socket: only the configured origins
    host, port = str(address[0]), int(address[1])
    secure = transport is not None and transport.get_extra_info("sslcontext") is not None
    scheme = "https" if secure else "http"
    try:
        ip = ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return frozenset()
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # IPv4 arriving on a dual-stack socket
    if ip.is_loopback:
        names: tuple[str, ...] = LOOPBACK_NAMES
    else:
        names = (f"[{ip}]" if isinstance(ip, ipaddress.IPv6Address) else str(ip),)
    suffix = "" if port == (443 if secure else 80) else f":{port}"
    return frozenset(f"{scheme}://{name}{suffix}" for name in names)
