"""The prefecture link's messages over HTTP: a county's CAP up, instructions down, acknowledgements back.

Both ends run this same server. The prefecture takes `POST /api/v1/link/cap` and
`/api/v1/link/acknowledgements` from its counties; a county takes `POST /api/v1/link/instructions`
from its prefecture. Each is posted by the peer's outbox with a gateway token bound to the peer's
CAP sender id, and each message is taken once by its identifier (a repeat answers 202
`duplicate: true` and changes nothing).
"""

from __future__ import annotations

from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, with_config
from typing_extensions import TypedDict

from dispatch.access import authz
from dispatch.access.authz import Action
from dispatch.access.speaks_for import check_link_peer
from dispatch.intake.instructions import TEXT_MAX, AcknowledgementIn, InstructionIn, Taken
from dispatch.shared.errors import Forbidden
from dispatch.storage.wire import FORBID
from dispatch.views import instructions
from gateways import cap_link
from web.alert_feeds import read_cap
from web.alerts import read_json
from web.errors import ErrorBody, error_response, json_response
from web.incidents import parse_int
from web.keys import RUNTIME
from web.openapi import PathParameter, identifier, operation
from web.query import Query, Rfc3339, parse_query
from web.security import PRINCIPAL

Identifier = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^\S+$")]


class InstructBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    text: str = Field(
        max_length=TEXT_MAX, description="The instruction, as the county's dispatcher reads it."
    )


class InstructionBody(BaseModel):
    """What a prefecture's outbox posts to a county."""

    model_config = ConfigDict(extra="forbid", populate_by_name=False)

    identifier: Identifier = Field(description="`<prefecture id>.instr.<n>`: the key it is taken once by.")
    incident_id: int = Field(ge=1, description="The county's incident.")
    text: str = Field(max_length=TEXT_MAX)
    sender: str = Field(alias="from", min_length=1, max_length=200, description="The prefecture's name.")
    sent_at: Rfc3339


class AcknowledgementBody(BaseModel):
    """What a county's outbox posts to its prefecture."""

    model_config = ConfigDict(extra="forbid")

    identifier: Identifier = Field(
        description="`<county id>.ack.<instruction>`: the key it is taken once by."
    )
    instruction: Identifier = Field(description="The instruction acknowledged.")
    by: str = Field(min_length=1, max_length=200, description="The county dispatcher who acknowledged it.")
    at: Rfc3339


class InstructionsQuery(Query):
    open: bool = Field(False, description="Only those not acknowledged yet (the county console's alarms).")


@with_config(FORBID)
class CountyReceiptOut(TypedDict):
    """What the prefecture took of a county's CAP message: the receipt the county's outbox keeps."""

    identifier: str
    msg_type: Literal["Alert", "Update", "Cancel", "Ack", "Error"]
    incident_id: Annotated[
        int | None,
        Field(
            description="The prefecture's incident for the county's; null: a Cancel of one never received."
        ),
    ]
    duplicate: Annotated[bool, Field(description="This identifier was taken before: nothing changed.")]
    opened: Annotated[bool, Field(description="This message opened the prefecture's incident.")]
    cancelled: Annotated[bool, Field(description="This Cancel cancelled the prefecture's incident.")]
    ignored: Annotated[str | None, Field(description="Why nothing was done (a Test message, an Ack …).")]


@with_config(FORBID)
class TakenOut(TypedDict):
    """An instruction or acknowledgement taken."""

    identifier: str
    incident_id: Annotated[int, Field(description="This server's incident it landed on.")]
    duplicate: Annotated[bool, Field(description="This identifier was taken before: nothing changed.")]


@with_config(FORBID)
class InstructedOut(TypedDict):
    incident_id: int
    identifier: Annotated[str, Field(description="The instruction's identifier (the same at the county).")]
    state: Annotated[Literal["sent"], Field(description="Queued in the outbox for the county.")]


@with_config(FORBID)
class AcknowledgedOut(TypedDict):
    incident_id: int
    identifier: str
    changed: Annotated[bool, Field(description="False: it was acknowledged already, nothing new.")]


def _taken(taken: Taken) -> web.Response:
    body: TakenOut = {
        "identifier": taken.identifier,
        "incident_id": taken.incident_id,
        "duplicate": taken.duplicate,
    }
    return json_response(body, 202)


@operation(
    "A county's CAP message (prefecture)",
    tag="link",
    actions=[Action.USE_LINK],
    description=(
        "At the prefecture: one CAP 1.2 message of a county (`sender` the county id, `incidents` "
        "its incident id), posted by its outbox with a gateway token bound to that CAP sender. The "
        "first message of a county incident opens an incident here, in the county's node of this "
        "tree; every later one joins it (`county_update` on its timeline) and a Cancel cancels it. "
        "The same identifier twice answers `duplicate: true` and changes nothing."
    ),
    responses={202: CountyReceiptOut, 415: ErrorBody},
    errors=[400, 403, 413, 422],
)
async def post_county_cap(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    runtime = request.app[RUNTIME]
    raw = await read_cap(request)
    message, county = cap_link.translate(raw, runtime.config)
    check_link_peer(principal, message.sender, "sender")  # an ignored message too: nothing is said to others
    body: CountyReceiptOut = {
        "identifier": message.identifier,
        "msg_type": message.message_type.value,
        "incident_id": None,
        "duplicate": False,
        "opened": False,
        "cancelled": False,
        "ignored": message.ignored,
    }
    if county is not None:
        receipt = await runtime.link.take_county_message(
            county, principal, request.headers.get("X-Request-Id")
        )
        body["incident_id"] = receipt.incident_id
        body["duplicate"] = receipt.duplicate
        body["opened"] = receipt.opened
        body["cancelled"] = receipt.cancelled
    return json_response(body, 202)


@operation(
    "Instruct the county (prefecture)",
    tag="link",
    actions=[Action.ACT_ON_INCIDENT],
    service_decides=True,
    description=(
        "At the prefecture: a dispatcher's instruction (指令) to the county an incident came from. "
        "`instruction_sent` lands on the incident's timeline and the instruction is queued for the "
        "county (outbox destination `county:<id>`). 409 `not_linked`: the incident did not come "
        "from a county."
    ),
    path={"id": identifier("incident")},
    body=InstructBody,
    responses={202: InstructedOut},
    errors=[404, 409, 422],
)
async def instruct(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    runtime = request.app[RUNTIME]
    incident_id = parse_int(request.match_info["id"], "id")
    body = InstructBody.model_validate(await read_json(request))
    done = await runtime.link.instruct(incident_id, body.text, principal, request.headers.get("X-Request-Id"))
    answer: InstructedOut = {"incident_id": done.incident_id, "identifier": done.identifier, "state": "sent"}
    return json_response(answer, 202)


@operation(
    "The prefecture's instruction (county)",
    tag="link",
    actions=[Action.USE_LINK],
    description=(
        "At the county: an instruction of the prefecture about one of its incidents, posted by the "
        "prefecture's outbox with a gateway token this county issued bound to CAP sender = its "
        "`prefecture.id`. `instruction_received` lands on the incident's timeline and rings the "
        "console until acknowledged. Unknown incident: 404 naming `incident_id`."
    ),
    body=InstructionBody,
    responses={202: TakenOut},
    errors=[403, 404, 422],
)
async def post_instruction(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    runtime = request.app[RUNTIME]
    prefecture = runtime.config.prefecture
    if prefecture is None:
        raise Forbidden(
            "this server has no prefecture above it (config `prefecture`): nobody may instruct it"
        )
    check_link_peer(principal, prefecture.id)  # before the body: a stranger learns nothing of it
    body = InstructionBody.model_validate(await read_json(request))
    incoming = InstructionIn(body.identifier, body.incident_id, body.text, body.sender, body.sent_at)
    if not body.text.strip():
        return error_response(422, "invalid", "an instruction needs its text", "text")
    return _taken(await runtime.link.receive_instruction(incoming, principal))


@operation(
    "Acknowledge an instruction (county)",
    tag="link",
    actions=[Action.ACT_ON_INCIDENT],
    service_decides=True,
    description=(
        "At the county: a dispatcher acknowledges the prefecture's instruction. "
        "`instruction_acknowledged` lands on the timeline and the acknowledgement is queued for the "
        "prefecture (outbox destination `upstream`). Acknowledging again answers `changed: false`."
    ),
    path={
        "id": identifier("incident"),
        "identifier": PathParameter("The instruction's identifier."),
    },
    responses={200: AcknowledgedOut},
    errors=[404, 422],
)
async def acknowledge(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    runtime = request.app[RUNTIME]
    incident_id = parse_int(request.match_info["id"], "id")
    name = request.match_info["identifier"]
    changed = await runtime.link.acknowledge(
        incident_id, name, principal, request.headers.get("X-Request-Id")
    )
    answer: AcknowledgedOut = {"incident_id": incident_id, "identifier": name, "changed": changed}
    return json_response(answer)


@operation(
    "A county's acknowledgement (prefecture)",
    tag="link",
    actions=[Action.USE_LINK],
    description=(
        "At the prefecture: a county dispatcher acknowledged an instruction sent from here, posted by "
        "the county's outbox with its gateway token. `instruction_acknowledged` lands on the "
        "incident's timeline and the instruction's state becomes acknowledged."
    ),
    body=AcknowledgementBody,
    responses={202: TakenOut},
    errors=[403, 404, 422],
)
async def post_acknowledgement(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    runtime = request.app[RUNTIME]
    if principal.binding is None:  # which county it must speak for is known once the instruction is found
        raise Forbidden("the prefecture link takes only a gateway token bound to the county's CAP sender")
    body = AcknowledgementBody.model_validate(await read_json(request))
    ack = AcknowledgementIn(body.identifier, body.instruction, body.by, body.at.isoformat())
    return _taken(await runtime.link.take_acknowledgement(ack, principal))


@operation(
    "List instructions",
    tag="link",
    actions=[Action.READ_INCIDENTS],
    description=(
        "The instructions on incidents in the caller's scope, newest first; `open=true`: only those "
        "not acknowledged (the console's alarms after a reload)."
    ),
    query=InstructionsQuery,
    responses={200: instructions.InstructionList},
    errors=[422],
)
async def list_instructions(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    runtime = request.app[RUNTIME]
    query = parse_query(request, InstructionsQuery)
    scope = authz.scope(principal, runtime.config)
    found = await runtime.read(
        lambda connection: instructions.in_scope(connection, scope, open_only=query.open)
    )
    body: instructions.InstructionList = {"instructions": found}
    return json_response(body)


def add_routes(app: web.Application) -> None:
    """Before web/incidents.py's: `/incidents/{id}/instruct` is not one of its `{trigger}`s."""
    app.router.add_post("/api/v1/link/cap", post_county_cap)
    app.router.add_post("/api/v1/link/instructions", post_instruction)
    app.router.add_post("/api/v1/link/acknowledgements", post_acknowledgement)
    app.router.add_post("/api/v1/incidents/{id}/instruct", instruct)
    app.router.add_post("/api/v1/incidents/{id}/instructions/{identifier}/acknowledge", acknowledge)
    app.router.add_get("/api/v1/instructions", list_instructions)
