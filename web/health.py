"""Liveness and readiness, open to anyone (load balancers, orchestrators)."""

from __future__ import annotations

from aiohttp import web

from dispatch.shared.clock import to_rfc3339
from dispatch.shared.errors import DatabaseUnavailable, error_body
from dispatch.storage import database
from web.errors import error_json, error_response, json_response
from web.keys import RUNTIME
from web.openapi import operation
from web.schemas import Health, Ready
from web.slow_clients import SLOW_CLIENTS


@operation("Liveness", tag="health", responses={200: Health})
async def healthz(_request: web.Request) -> web.Response:
    body: Health = {"status": "ok"}
    return json_response(body)


@operation(
    "Readiness",
    tag="health",
    description=(
        "The database answers and the writer runs. While the database is unreachable: 503 with "
        "`Retry-After` and `error.database` `unreachable` (since `error.unreachable_since`). "
        "`mqtt` tells the MQTT link's state and counters; a broker outage does not make the "
        "server unready. `web` counts requests ended for a slow body and bodies hung up on."
    ),
    responses={200: Ready},
    errors=[503],
)
async def readyz(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    try:
        await runtime.read(database.check_connection)
    except DatabaseUnavailable as err:
        health = runtime.database_health
        unreachable = error_body("not_ready", f"database: unreachable ({health.reason or 'no answer'})")
        unreachable["database"] = "unreachable"
        unreachable["unreachable_since"] = to_rfc3339(health.unreachable_since)
        response = error_json(503, unreachable)
        response.headers["Retry-After"] = str(err.retry_after)
        return response
    except Exception as err:  # any other driver error means not ready either
        failing = error_body("not_ready", f"database: {type(err).__name__}")
        failing["database"] = "failing"
        return error_json(503, failing)
    await runtime.refresh()
    if not runtime.writer_figures().running:
        return error_response(503, "not_ready", "the writer is not running")
    ready: Ready = {
        "status": "ready",
        "database": "ok",
        "next_deadline_at": runtime.deadlines.next_due,
        "mqtt": runtime.mqtt_stats(),
        "web": request.app[SLOW_CLIENTS].stats(),
    }
    return json_response(ready)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
