"""Liveness and readiness, open to anyone (load balancers, orchestrators)."""

from __future__ import annotations

from aiohttp import web

from dispatch import database
from web.errors import error_response, json_response
from web.keys import RUNTIME
from web.openapi import operation
from web.schemas import Health, Ready


@operation("Liveness", tag="health", responses={200: Health})
async def healthz(_request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


@operation(
    "Readiness",
    tag="health",
    description=(
        "The database answers and the writer runs. `mqtt` tells the MQTT link's state and "
        "counters; a broker outage does not make the server unready."
    ),
    responses={200: Ready},
    errors=[503],
)
async def readyz(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    try:
        await runtime.read(lambda connection: database.check_connection(connection))
    except Exception as err:  # any driver error means not ready
        return error_response(503, "not_ready", f"database: {type(err).__name__}")
    if not runtime.writer.running:
        return error_response(503, "not_ready", "the writer is not running")
    mqtt = runtime.mqtt.stats() if runtime.mqtt is not None else None
    return json_response({"status": "ready", "next_deadline_at": runtime.deadlines.next_due, "mqtt": mqtt})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
