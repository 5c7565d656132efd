"""Instructions (指令) as dispatchers read them: on an incident's detail, and the open ones in scope."""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import Field, with_config
from typing_extensions import TypedDict

from dispatch.shared.clock import to_rfc3339
from dispatch.storage.tables import incident_table, instruction_table, link_incident_table, outbound_table
from dispatch.storage.wire import FORBID, Moment

Direction = Literal["sent", "received"]
InstructionState = Literal["sent", "delivered", "received", "acknowledged"]


@with_config(FORBID)
class InstructionOut(TypedDict):
    """One instruction of the prefecture to a county, at either end of the link."""

    identifier: Annotated[str, Field(description="`<prefecture id>.instr.<n>`: the same at both ends.")]
    direction: Annotated[
        Direction, Field(description="sent: this server is the prefecture; received: the county.")
    ]
    incident_id: Annotated[int, Field(description="This server's incident.")]
    county: Annotated[str, Field(description="The county it is for (its CAP sender id).")]
    county_incident_id: Annotated[int, Field(description="The county's incident.")]
    text: str
    sender: Annotated[str, Field(description="Who sent it: the prefecture's name.")]
    sent_at: Moment
    state: Annotated[
        InstructionState,
        Field(
            description=(
                "At the prefecture: sent (queued for the county), delivered (the county took it), "
                "acknowledged (a county dispatcher acknowledged it). At the county: received, then "
                "acknowledged."
            )
        ),
    ]
    acknowledged_at: Moment | None
    acknowledged_by: Annotated[str | None, Field(description="The county dispatcher who acknowledged it.")]


@with_config(FORBID)
class CountyLinkOut(TypedDict):
    """At the prefecture: the county incident this incident stands for (what `instruct` reaches)."""

    county: Annotated[str, Field(description="The county (its CAP sender id).")]
    county_incident_id: Annotated[str, Field(description="The county's own incident id.")]


@with_config(FORBID)
class InstructionList(TypedDict):
    instructions: Annotated[list[InstructionOut], Field(description="Newest first.")]


def _delivered(connection: sa.Connection, message_ids: list[int]) -> set[int]:
    """The outbound messages among these that the county took (dispatch/core/outbound.py)."""
    c = outbound_table.c
    rows = connection.execute(sa.select(c.id).where(c.id.in_(message_ids), c.state == "delivered"))
    return {row.id for row in rows}


def _shape(rows: list[Any], delivered: set[int]) -> list[InstructionOut]:
    shaped: list[InstructionOut] = []
    for row in rows:
        state: InstructionState
        if row.acknowledged_at is not None:
            state = "acknowledged"
        elif row.direction == "received":
            state = "received"
        else:
            state = "delivered" if row.message_id in delivered else "sent"
        shaped.append(
            {
                "identifier": row.identifier,
                "direction": row.direction,
                "incident_id": row.incident_id,
                "county": row.county,
                "county_incident_id": row.county_incident_id,
                "text": row.text,
                "sender": row.sender,
                "sent_at": to_rfc3339(row.sent_at) or "",
                "state": state,
                "acknowledged_at": to_rfc3339(row.acknowledged_at),
                "acknowledged_by": row.acknowledged_by,
            }
        )
    return shaped


def _read(connection: sa.Connection, query: sa.Select[Any]) -> list[InstructionOut]:
    rows = list(connection.execute(query.order_by(instruction_table.c.sent_at.desc())))
    message_ids = [row.message_id for row in rows if row.message_id is not None]
    return _shape(rows, _delivered(connection, message_ids) if message_ids else set())


def county_link(connection: sa.Connection, incident_id: int) -> CountyLinkOut | None:
    c = link_incident_table.c
    row = connection.execute(
        sa.select(c.sender, c.county_incident_id).where(c.incident_id == incident_id)
    ).first()
    return {"county": row.sender, "county_incident_id": row.county_incident_id} if row is not None else None


def of_incident(connection: sa.Connection, incident_id: int) -> list[InstructionOut]:
    return _read(
        connection, sa.select(instruction_table).where(instruction_table.c.incident_id == incident_id)
    )


def in_scope(
    connection: sa.Connection, scope: Collection[str] | None, *, open_only: bool, limit: int = 500
) -> list[InstructionOut]:
    """The instructions on incidents the scope covers (located in or owned by it); open: unacknowledged."""
    query = sa.select(instruction_table).join(
        incident_table, incident_table.c.id == instruction_table.c.incident_id
    )
    if scope is not None:
        where = list(scope)
        query = query.where(
            sa.or_(
                incident_table.c.jurisdiction_id.in_(where), incident_table.c.owner_jurisdiction_id.in_(where)
            )
        )
    if open_only:
        query = query.where(instruction_table.c.acknowledged_at.is_(None))
    return _read(connection, query.limit(limit))
