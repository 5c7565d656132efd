"""`POST /api/v1/alerts/cap` and `/api/v1/alerts/alertmanager`: warning and monitoring feeds.

Each handler validates, translates (gateways/), checks against the config, then asks the
service; the 202 is sent only once everything the message caused is committed.
"""

from __future__ import annotations

from typing import Annotated, Literal

from aiohttp import web
from pydantic import Field, TypeAdapter, ValidationError, with_config
from typing_extensions import TypedDict

from dispatch.access.authz import Action
from dispatch.access.speaks_for import check_cap_sender, check_source
from dispatch.intake.alerts import AlertKind
from dispatch.intake.status import AlertStatusChange
from dispatch.storage.wire import FORBID
from gateways import alertmanager, cap, cap_xml
from web.alerts import read_json
from web.errors import ErrorBody, error_response, json_response, validation_error
from web.keys import RUNTIME
from web.openapi import operation
from web.request_body import UnsupportedMediaType, read_body
from web.schemas import Received, receipt
from web.security import PRINCIPAL

XML_TYPES = frozenset({"application/xml", "text/xml", "application/cap+xml"})

_webhook = TypeAdapter(alertmanager.AlertmanagerWebhook)


MsgType = Literal["Alert", "Update", "Cancel", "Ack", "Error"]
IgnoredReason = Literal["other_sender", "not_received"]
FiringOrResolved = Literal["firing", "resolved"]


@with_config(FORBID)
class AlertStatusOut(TypedDict):
    """An alert resolved or cancelled by its sender."""

    alert_id: int
    incident_id: int
    changed: Annotated[bool, Field(description="False: it was resolved or cancelled already.")]
    incident_state: Annotated[str, Field(description="The incident's state afterwards.")]


@with_config(FORBID)
class IgnoredReference(TypedDict):
    """A reference of an Update or Cancel that was not followed."""

    sender: str
    identifier: str
    sent: str
    reason: Annotated[
        IgnoredReason,
        Field(
            description=(
                "other_sender: it names another sender's message (a sender updates and withdraws only "
                "its own); not_received: no CAP alert of this sender with that identifier was received."
            )
        ),
    ]


@with_config(FORBID)
class CapResult(TypedDict):
    """What the CAP message did, once committed."""

    msg_type: MsgType
    identifier: str
    alert: Annotated[Received | None, Field(description="Alert and Update: the alert received.")]
    cancelled: Annotated[
        list[AlertStatusOut],
        Field(description="Cancel: each alert withdrawn (with those the referenced messages superseded)."),
    ]
    ignored: Annotated[str | None, Field(description="Why nothing was done (a Test message, an Ack …).")]
    ignored_references: Annotated[
        list[IgnoredReference],
        Field(description="Update and Cancel: the references that were not followed, and why."),
    ]


@with_config(FORBID)
class AlertmanagerOutcome(TypedDict):
    status: FiringOrResolved
    source_event_id: Annotated[str, Field(description="The alert's key: fingerprint@startsAt.")]
    alert_id: Annotated[
        int | None,
        Field(
            description=(
                "Null: a resolved alert that was never received from this receiver (an alert of "
                "another kind under the same key is never touched)."
            )
        ),
    ]
    incident_id: int | None
    duplicate: Annotated[bool | None, Field(description="firing: the same key was received before.")]
    changed: Annotated[
        bool | None, Field(description="resolved: false if it was resolved already or unknown.")
    ]


@with_config(FORBID)
class AlertmanagerResults(TypedDict):
    """One outcome per alert of the notification, in its order; sent once all are committed."""

    results: list[AlertmanagerOutcome]


async def read_cap(request: web.Request) -> bytes:
    """A CAP message's body: XML by its Content-Type, decoded, not empty (415 / 400 otherwise)."""
    if request.content_type not in XML_TYPES:
        raise UnsupportedMediaType(
            f"send the CAP message as application/xml or text/xml, not {request.content_type!r}"
        )
    raw = await read_body(request)
    if not raw:
        raise cap_xml.MalformedXml("the request body is empty; send a CAP message")
    return raw


@operation(
    "Send a CAP 1.2 message",
    tag="alerts",
    actions=[Action.POST_ALERTS],
    description=(
        "The body is one CAP 1.2 `<alert>` as XML (`Content-Type: application/xml` or `text/xml`), "
        "UTF-8, without DTD or entities. Alert and Update create an alert (an Update joins the "
        "incident its sender's earlier message opened); Cancel withdraws the alerts of the "
        "messages in `references`, and cancels an incident left without any. A sender speaks only "
        "for itself: references to another sender's messages, or to anything but a CAP alert of "
        "this sender, are not followed and are listed in `ignored_references`. A gateway token "
        "bound to CAP senders (`dispatch token issue --cap-sender`) answers 403 for any other "
        "`sender`, and nothing is stored. A status other than Actual, and msgType Ack or Error, "
        "are acknowledged and ignored."
    ),
    responses={202: CapResult, 415: ErrorBody},
    errors=[400, 413, 422],
)
async def post_cap(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    runtime = request.app[RUNTIME]
    raw = await read_cap(request)
    message = cap.translate(raw, runtime.config.cap)
    check_cap_sender(principal, message.sender)
    cap.check_times(message, runtime.service.time_window())
    causation_id = request.headers.get("X-Request-Id")
    ignored_references = [
        _ignored(reference, cap.ReferenceIgnored.OTHER_SENDER) for reference in message.foreign_references
    ]
    body: CapResult = {
        "msg_type": message.message_type.value,
        "identifier": message.identifier,
        "alert": None,
        "cancelled": [],
        "ignored": message.ignored,
        "ignored_references": ignored_references if message.ignored is None else [],
    }
    if message.alert is not None:
        [received] = await runtime.service.submit_alerts(
            [(message.alert, raw.decode("utf-8"))],
            batch=False,
            actor=principal.actor,
            causation_id=causation_id,
        )
        body["alert"] = receipt(received)
    elif message.message_type == cap.MessageType.CANCEL and message.ignored is None:
        own = message.own_references
        changes = (
            await runtime.service.cancel_alerts(
                [(reference.sender, reference.identifier) for reference in own],
                actor=principal.actor,
                reason=f"CAP Cancel {message.identifier} from {message.sender}",
                causation_id=causation_id,
                kind=AlertKind.CAP,
            )
            if own
            else []
        )
        body["cancelled"] = [_status(change) for change in changes]
        found = {change.key for change in changes}
        ignored_references += [
            _ignored(reference, cap.ReferenceIgnored.NOT_RECEIVED)
            for reference in own
            if (reference.sender, reference.identifier) not in found
        ]
    return json_response(body, 202)


def _ignored(reference: cap.Reference, reason: cap.ReferenceIgnored) -> IgnoredReference:
    return {
        "sender": reference.sender,
        "identifier": reference.identifier,
        "sent": reference.sent,
        "reason": reason.value,
    }


def _status(change: AlertStatusChange) -> AlertStatusOut:
    return {
        "alert_id": change.alert_id,
        "incident_id": change.incident_id,
        "changed": change.changed,
        "incident_state": change.incident_state,
    }


@operation(
    "Send an Alertmanager notification",
    tag="alerts",
    actions=[Action.POST_ALERTS],
    description=(
        "Prometheus Alertmanager's webhook (payload version 4); point a `webhook_config` here with "
        "a gateway token as `http_config.authorization.credentials`. Each firing alert becomes an "
        "alert keyed (receiver, fingerprint@startsAt); each resolved one resolves that alert (only "
        "an Alertmanager alert of the same receiver, never another kind under the same key), and "
        "an incident whose every alert is resolved resolves itself if its policy has `auto_resolve`. "
        "A gateway token bound to sources (`dispatch token issue --source`) answers 403 for a "
        "receiver it does not speak for, and nothing is stored."
    ),
    body=alertmanager.AlertmanagerWebhook,
    responses={202: AlertmanagerResults},
)
async def post_alertmanager(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    runtime = request.app[RUNTIME]
    data = await read_json(request)
    try:
        webhook = _webhook.validate_python(data)
    except ValidationError as err:
        return validation_error(err)
    limit = runtime.config.intake.max_batch
    if len(webhook.alerts) > limit:
        return error_response(413, "too_large", f"at most {limit} alerts per notification", "alerts")
    check_source(principal, alertmanager.source_of(webhook), "receiver")
    alertmanager.check_times(webhook, runtime.service.time_window())
    notices = alertmanager.translate(webhook, runtime.config)
    firing = [(notice.alert, notice.raw) for notice in notices if notice.alert is not None]
    causation_id = request.headers.get("X-Request-Id")
    received = iter(
        await runtime.service.submit_alerts(
            firing,
            batch=True,
            actor=principal.actor,
            causation_id=causation_id,
            at=[index for index, notice in enumerate(notices) if notice.alert is not None],
        )
    )
    results: list[AlertmanagerOutcome] = []
    for notice in notices:
        outcome: AlertmanagerOutcome = {
            "status": notice.status.value,
            "source_event_id": notice.source_event_id,
            "alert_id": None,
            "incident_id": None,
            "duplicate": None,
            "changed": None,
        }
        if notice.alert is not None:
            taken = next(received)
            outcome["alert_id"] = taken.alert_id
            outcome["incident_id"] = taken.incident_id
            outcome["duplicate"] = taken.duplicate
        else:
            change = await runtime.service.resolve_alert(
                notice.source,
                notice.source_event_id,
                actor=principal.actor,
                reason="resolved in Alertmanager",
                causation_id=causation_id,
                kind=AlertKind.MONITORING,
            )
            outcome["changed"] = change.changed if change is not None else False
            if change is not None:
                outcome["alert_id"] = change.alert_id
                outcome["incident_id"] = change.incident_id
        results.append(outcome)
    answer: AlertmanagerResults = {"results": results}
    return json_response(answer, 202)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/alerts/cap", post_cap)
    app.router.add_post("/api/v1/alerts/alertmanager", post_alertmanager)
