"""`POST /api/v1/alerts`: one alert or a batch; 202 only once every alert is committed."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web
from pydantic import TypeAdapter, ValidationError

from dispatch.access.authz import Action
from dispatch.access.speaks_for import check_source
from dispatch.intake.alerts import AlertBatch, AlertIn, refuse_nul
from dispatch.shared.errors import MalformedBody
from web.errors import error_response, json_response, validation_error
from web.keys import RUNTIME
from web.openapi import operation
from web.request_body import read_body, require_json
from web.schemas import AlertResults, Received, receipt
from web.security import PRINCIPAL

_alert = TypeAdapter(AlertIn)


async def read_json(request: web.Request) -> Any:
    require_json(request)
    body = await read_body(request)
    if not body:
        raise MalformedBody("the request body is empty; send JSON")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise MalformedBody(f"the body is not valid JSON: {err}") from err
    # JSON can carry a NUL only escaped; PostgreSQL text cannot hold one (a 500 otherwise).
    if b"\\u0000" in body:
        refuse_nul(data)
    return data


@operation(
    "Send alerts",
    tag="alerts",
    actions=[Action.POST_ALERTS],
    description=(
        'One alert, or `{"alerts": [...]}` (at most `intake.max_batch`, else 413). Answered only '
        "after every alert is committed; the same (`source`, `source_event_id`) again is a duplicate. "
        "A gateway token bound to sources answers 403 naming the first `source` it does not speak "
        "for (`alerts.N.source`), and nothing of the request is stored."
    ),
    body=AlertIn | AlertBatch,
    responses={202: Received | AlertResults},
)
async def post_alerts(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    runtime = request.app[RUNTIME]
    data = await read_json(request)
    batch = isinstance(data, dict) and "alerts" in data
    if batch:
        extra = sorted(set(data) - {"alerts"})
        if extra:
            return error_response(422, "invalid", f"unexpected field {extra[0]!r}", extra[0])
        items = data["alerts"]
        if not isinstance(items, list):
            return error_response(422, "invalid", "alerts must be a list", "alerts")
        if not items:
            return error_response(422, "invalid", "alerts is empty: send at least one", "alerts")
        limit = runtime.config.intake.max_batch
        if len(items) > limit:
            return error_response(413, "too_large", f"at most {limit} alerts per request", "alerts")
    elif isinstance(data, dict):
        items = [data]
    else:
        return error_response(422, "invalid", 'send one alert object or {"alerts": [...]}')
    alerts: list[tuple[AlertIn, str]] = []
    for index, item in enumerate(items):
        try:
            alert = _alert.validate_python(item)
        except ValidationError as err:
            return validation_error(err, f"alerts.{index}." if batch else "")
        alerts.append((alert, orjson.dumps(item).decode()))
    for index, (alert, _) in enumerate(alerts):
        check_source(principal, alert.source, f"alerts.{index}.source" if batch else "source")
    received = await runtime.service.submit_alerts(
        alerts, batch=batch, actor=principal.actor, causation_id=request.headers.get("X-Request-Id")
    )
    if batch:
        results: AlertResults = {"results": [receipt(each) for each in received]}
        return json_response(results, 202)
    return json_response(receipt(received[0]), 202)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/alerts", post_alerts)
