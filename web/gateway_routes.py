"""`POST /api/v1/alerts/frigate` and `POST /api/v1/hotline/calls`: foreign formats over HTTP."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from aiohttp import web
from pydantic import Field, TypeAdapter, ValidationError, with_config
from typing_extensions import TypedDict

from dispatch.access.authz import Action
from dispatch.access.speaks_for import check_source
from dispatch.shared.errors import DispatchError
from dispatch.storage.wire import FORBID
from gateways import frigate, hotline
from web.alerts import read_json
from web.errors import error_response, json_response, validation_error
from web.keys import RUNTIME
from web.openapi import operation
from web.schemas import Received, receipt
from web.security import PRINCIPAL

logger = logging.getLogger(__name__)

REJECTED: web.AppKey[dict[str, int]] = web.AppKey("gateway_rejections")
"""Malformed messages per route, for metrics and the tests."""

_frigate_event = TypeAdapter(frigate.FrigateEvent)
_call_entry = TypeAdapter(hotline.CallEntry)
_telephony_event = TypeAdapter(hotline.TelephonyEvent)
_TELEPHONY_TYPES = {each.value for each in hotline.TelephonyEventType}


@with_config(FORBID)
class IgnoredBody(TypedDict):
    """Understood, and deliberately not an alert: nothing was written."""

    ignored: Annotated[
        str,
        Field(
            description=(
                "Why: false_positive, not_an_alert, unmapped_camera, unmapped_label, below_min_score, "
                "cooldown (Frigate); no_category (a telephony event without a category)."
            )
        ),
    ]


@with_config(FORBID)
class FrigateReceived(Received):
    """A Frigate object's alert receipt, sent once committed."""

    updated: Annotated[
        bool,
        Field(
            description=(
                "A later message of the object changed what a dispatcher cares about (best score up "
                "by 0.05, a new zone, a snapshot or clip, a recognized name, the end time): the "
                "alert's attributes were rewritten and `alert_updated` is on the incident's timeline."
            )
        ),
    ]
    resolved: Annotated[bool, Field(description="An `end` message marked the object's alert resolved.")]


@with_config(FORBID)
class HotlineReceived(Received):
    """A hotline message's receipt, sent once committed."""

    updated: Annotated[
        bool,
        Field(
            description=(
                "A later message of the call (or of the same caller within the window) rewrote its "
                "alert: `alert_updated` is on the incident's timeline."
            )
        ),
    ]


def _ignored(reason: str) -> web.Response:
    body: IgnoredBody = {"ignored": reason}
    return json_response(body, 200)


def _reject(request: web.Request, route: str, response: web.Response) -> web.Response:
    counts = request.app[REJECTED]
    counts[route] = counts.get(route, 0) + 1
    logger.warning("%s: rejected a malformed message (%s)", route, response.text)
    return response


async def _read(request: web.Request, route: str) -> Any:
    try:
        return await read_json(request)
    except DispatchError:  # not JSON, not decodable, not a JSON media type
        request.app[REJECTED][route] = request.app[REJECTED].get(route, 0) + 1
        raise


@operation(
    "Send one Frigate event",
    tag="alerts",
    actions=[Action.POST_ALERTS],
    description=(
        "The JSON Frigate publishes on `frigate/events` (`type` new/update/end, `before`, `after`). "
        "One tracked object is one alert (its Frigate id is the key: updates answer `duplicate: "
        "true`), updated in place: when a later message raises the best score by 0.05 or more, "
        "enters a new zone, makes a snapshot or clip available, names the object or ends it, the "
        "alert's `attributes.frigate` are rewritten and `alert_updated` is recorded (`updated: "
        "true`); other updates write nothing. A message that is understood but stands for no "
        "alert (false positive, camera or label not in `frigate` of config.yaml, score below the "
        'minimum, cooldown) answers 200 `{"ignored": reason}`. `end` marks the alert of the '
        "object resolved (`resolved: true`). Review items (`frigate/reviews`) are read over MQTT."
    ),
    body=frigate.FrigateEvent,
    responses={202: FrigateReceived, 200: IgnoredBody},
)
async def post_frigate_event(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    runtime = request.app[RUNTIME]
    data = await _read(request, "frigate")
    if not isinstance(data, dict):
        return _reject(request, "frigate", error_response(422, "invalid", "send one Frigate event object"))
    try:
        event = _frigate_event.validate_python(data)
    except ValidationError as err:
        return _reject(request, "frigate", validation_error(err))
    check_source(principal, frigate.source_of(event.after.camera), "after.camera")
    outcome = await runtime.video.take_event(
        event,
        data,
        actor=principal.actor,
        now=runtime.clock.now(),
        causation_id=request.headers.get("X-Request-Id"),
    )
    if outcome.ignored is not None:
        return _ignored(outcome.ignored)
    assert outcome.received is not None
    answer: FrigateReceived = {
        **receipt(outcome.received),
        "updated": outcome.updated,
        "resolved": outcome.resolved,
    }
    return json_response(answer, 202)


@operation(
    "Report a hotline call",
    tag="alerts",
    actions=[Action.POST_ALERTS],
    description=(
        "A call-taker's entry (`type: entry`) or a telephony event (`call_started`, "
        "`call_answered`, `call_ended`). Each call is one alert keyed by its `call_id`, whichever "
        "message arrives first: the entry and the call's telephony events rewrite it in place "
        "(`updated: true`, `alert_updated` on the incident's timeline: the call's state, the "
        "entry's category, place and description); an identical repeat writes nothing. A second "
        "call from the same number within the correlation window, about the same category, "
        "joins the first call's alert: one caller. Calls about the same thing (same category, "
        "near in space and time) join one incident, whose `alert_count` counts the callers. The "
        "caller's number is kept for dispatchers only. A telephony event without a category, "
        'of a call not yet known, answers 200 `{"ignored": "no_category"}`.'
    ),
    body=hotline.HotlineCall,
    responses={202: HotlineReceived, 200: IgnoredBody},
)
async def post_hotline_call(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    data = await _read(request, "hotline")
    kind = data.get("type") if isinstance(data, dict) else None
    adapter: TypeAdapter[Any]
    if kind == "entry":
        adapter = _call_entry
    elif kind in _TELEPHONY_TYPES:
        adapter = _telephony_event
    else:
        message = "type must be entry, " + ", ".join(sorted(_TELEPHONY_TYPES))
        return _reject(request, "hotline", error_response(422, "invalid", message, "type"))
    try:
        call = adapter.validate_python(data)
    except ValidationError as err:
        return _reject(request, "hotline", validation_error(err))
    hotline.check_times(call, request.app[RUNTIME].service.time_window())
    # A bound token speaks for its line or telephony system, whatever key the call's alert has.
    check_source(principal, hotline.speaker(call), "line" if kind == "entry" else "system")
    outcome = await request.app[RUNTIME].hotline.take(
        call, data, actor=principal.actor, causation_id=request.headers.get("X-Request-Id")
    )
    if outcome.ignored is not None:
        return _ignored(outcome.ignored)
    assert outcome.received is not None
    logger.info(
        "hotline call %s (%s) from %s", call.call_id, call.type, hotline.mask_number(call.caller_number)
    )
    answer: HotlineReceived = {**receipt(outcome.received), "updated": outcome.updated}
    return json_response(answer, 202)


def add_routes(app: web.Application) -> None:
    app[REJECTED] = {}
    app.router.add_post("/api/v1/alerts/frigate", post_frigate_event)
    app.router.add_post("/api/v1/hotline/calls", post_hotline_call)
