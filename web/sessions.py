"""`/api/v1/session`: people log in (a session cookie), see who they are, and log out."""

from __future__ import annotations

import logging
import math
from typing import cast

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from dispatch.access import accounts
from dispatch.access.auth import Principal, Role
from dispatch.config.model import Config
from dispatch.config.screens import SecureCookie
from dispatch.shared.clock import to_rfc3339
from dispatch.shared.errors import DispatchError, Forbidden, error_body
from web.alerts import read_json
from web.errors import error_json, error_response, json_response
from web.keys import RUNTIME
from web.openapi import operation
from web.people_schemas import Catalog, LoggedOut, PeopleRole, SessionInfo
from web.security import COOKIE, PRINCIPAL, SESSION, SESSIONS, origin_allowed

logger = logging.getLogger(__name__)

HOME = {
    Role.ADMIN: "/console/",
    Role.DISPATCHER: "/console/",
    Role.RESPONDER: "/tablet/",
    Role.SCREEN: "/screen/",
}
"""Where each role's login lands."""


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(min_length=1, max_length=256, description="The user name (`dispatch user add`).")
    password: str = Field(min_length=1, max_length=accounts.MAX_PASSWORD)
    totp: str | None = Field(
        None,
        max_length=16,
        description="Admins: the 6-digit code their authenticator app shows now (else 401 `totp_required`).",
    )


class Unauthenticated(DispatchError):
    status = 401
    code = "unauthorized"


class WrongCredentials(DispatchError):
    status = 401
    code = "wrong_credentials"


SECOND_FACTOR_REFUSALS = {
    "totp_required": "this account also needs the 6-digit code its authenticator app shows now",
    "wrong_totp": "wrong code (or one used already): enter the code the authenticator app shows now",
    "totp_not_enrolled": "this admin account has no second factor yet: on the server run "
    "`dispatch user totp-reset NAME` and add the code it shows to an authenticator app",
}


@operation(
    "Log in",
    tag="sessions",
    description=(
        "A person's name and password; sets the HttpOnly, SameSite=Strict session cookie and "
        "answers who it is and the CSRF token its page must send in `X-CSRF-Token` with every "
        "change. After `sessions.max_failed_logins` wrong passwords in a row the account answers "
        "429 with `Retry-After` until its wait is over. An admin also sends `totp`, the code of its "
        "authenticator app: without it the answer is 401 `totp_required` once the password is right; "
        "a wrong code (401 `wrong_totp`) counts like a wrong password. Every attempt is in the event log."
    ),
    body=LoginBody,
    responses={200: SessionInfo},
    errors=[401, 403, 429],
)
async def login(request: web.Request) -> web.Response:
    if not origin_allowed(request):
        raise Forbidden(
            f"log in from this server's own page: Origin {request.headers.get('Origin')!r} is neither the "
            "address this connection reached nor listed in websocket.allowed_origins",
            field="Origin",
        )
    body = LoginBody.model_validate(await read_json(request))
    runtime = request.app[RUNTIME]
    now = runtime.clock.now()
    outcome = await runtime.logins.log_in(body.name, body.password, body.totp, request.remote)
    if outcome.refusal == "throttled":
        return _throttled(outcome.retry_after or 0.0)
    if outcome.refusal in SECOND_FACTOR_REFUSALS:
        return error_response(401, outcome.refusal, SECOND_FACTOR_REFUSALS[outcome.refusal], "totp")
    if outcome.session is None or outcome.session_id is None:
        raise WrongCredentials("wrong name or password", field="password")
    session = outcome.session
    response = json_response(
        _session_body(runtime.config, session.principal, session.csrf_token, session.expires_at)
    )
    response.set_cookie(
        COOKIE,
        outcome.session_id,
        max_age=max(1, int(session.expires_at - now)),
        path="/",
        httponly=True,
        samesite="Strict",
        secure=runtime.config.sessions.secure_cookie == SecureCookie.ALWAYS or request.secure,
    )
    return response


def _throttled(wait: float) -> web.Response:
    seconds = max(1, math.ceil(wait))
    refusal = error_body(
        "too_many_attempts", f"too many wrong passwords in a row: try again in {seconds} s", "password"
    )
    refusal["retry_after"] = seconds
    response = error_json(429, refusal)
    response.headers["Retry-After"] = str(seconds)
    return response


@operation(
    "Who is logged in",
    tag="sessions",
    description=(
        "The caller (session cookie or bearer token), its CSRF token (null for a token), where its "
        "screen is, and what the screens need to draw: settings, categories, departments, names "
        "of the jurisdictions."
    ),
    responses={200: SessionInfo},
    errors=[401],
)
async def whoami(request: web.Request) -> web.Response:
    principal = request.get(PRINCIPAL)
    if principal is None:
        raise Unauthenticated("not logged in", field="Authorization")
    session = request.get(SESSION)
    runtime = request.app[RUNTIME]
    return json_response(
        _session_body(
            runtime.config,
            principal,
            session.csrf_token if session else None,
            session.expires_at if session else None,
        )
    )


@operation(
    "Log out",
    tag="sessions",
    description="Ends the session of the cookie (with its `X-CSRF-Token`) and closes its sockets.",
    responses={200: LoggedOut},
    errors=[401, 403],
)
async def logout(request: web.Request) -> web.Response:
    session = request.get(SESSION)
    session_id = request.cookies.get(COOKIE)
    if session is None or session_id is None:
        raise Unauthenticated("not logged in with a session cookie", field="Cookie")
    runtime = request.app[RUNTIME]
    ended = await runtime.logins.log_out(session_id, session.principal, request.remote)
    request.app[SESSIONS].forget(session_id)
    await runtime.hub.close_credential(accounts.hash_session_id(session_id), "logged out")
    body: LoggedOut = {"ended": ended}
    response = json_response(body)
    response.del_cookie(COOKIE, path="/")
    return response


def _session_body(
    config: Config, principal: Principal, csrf_token: str | None, expires_at: float | None
) -> SessionInfo:
    unit = config.responder_by_id.get(principal.responder_id or "")
    tiles = config.map
    labels = config.tier_labels
    return {
        "user": {
            "name": principal.name,
            # The server's own role (system) never logs in nor holds a token.
            "role": cast(PeopleRole, principal.role.value),
            "jurisdiction": principal.jurisdiction_id,
            "responder": principal.responder_id,
            "department": principal.department_id,
            "unit_name": unit.name if unit else None,
        },
        "csrf_token": csrf_token,
        "expires_at": to_rfc3339(expires_at),
        "home": HOME.get(principal.role),
        "settings": {
            "language": config.language,
            "timezone": config.timezone,
            "map": {
                "tile_url": tiles.tile_url,
                "tile_attribution": tiles.tile_attribution,
                "tile_coordinates": tiles.tile_coordinates,
                "min_zoom": tiles.min_zoom,
                "max_zoom": tiles.max_zoom,
            },
            "tier_labels": {"city": labels.city, "town": labels.town, "street": labels.street},
            "prefecture": config.prefecture.name if config.prefecture else None,
            "root": config.root.id,
        },
        "catalog": catalog(config),
    }


def catalog(config: Config) -> Catalog:
    """The names the screens show for ids: categories, departments, jurisdictions, units."""
    return {
        "categories": [
            {
                "id": each.id,
                "name": each.name,
                "name_en": each.name_en,
                "department": each.department,
                "default_severity": int(each.default_severity),
            }
            for each in config.categories
        ],
        "departments": [
            {"id": each.id, "name": each.name, "name_en": each.name_en} for each in config.departments
        ],
        "jurisdictions": [
            {"id": each.id, "name": each.name, "tier": each.tier, "parent": each.parent}
            for each in config.jurisdictions
        ],
    }


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/session", login)
    app.router.add_get("/api/v1/session", whoami)
    app.router.add_delete("/api/v1/session", logout)
