"""Liveness and readiness, open to anyone (load balancers, orchestrators)."""

from __future__ import annotations

from aiohttp import web

from dispatch.shared.clock import to_rfc3339
from dispatch.shared.errors import DatabaseUnavailable
from dispatch.storage import database
from web.errors import error_response, json_response
from web.keys import RUNTIME
from web.openapi import operation
from web.schemas import Health, Ready
from web.slow_clients import SLOW_CLIENTS


@operation("Liveness", tag="health", responses={200: Health})
async def healthz(_request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


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
        response = error_response(
            503,
            "not_ready",
            f"database: unreachable ({health.reason or 'no answer'})",
            database="unreachable",
            unreachable_since=to_rfc3339(health.unreachable_since),
        )
        response.headers["Retry-After"] = str(err.retry_after)
        return response
    except Exception as err:  # any other driver error means not ready either
        return error_response(503, "not_ready", f"database: {type(err).__name__}", database="failing")
    if not runtime.writer_figures().running:
        return error_response(503, "not_ready", "the writer is not running")
    mqtt = runtime.mqtt.stats() if runtime.mqtt is not None else None
    return json_response(
        {
            "status": "ready",
            "database": "ok",
            "next_deadline_at": runtime.deadlines.next_due,
            "mqtt": mqtt,
            "web": request.app[SLOW_CLIENTS].stats(),
        }
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
