"""Instructions (指令) down the prefecture link, and their acknowledgements back up.

At the prefecture a dispatcher instructs the county that reported an incident: the instruction
is recorded on the incident's timeline and put in the outbox for that county. At the county it
lands on the county's incident and rings until a county dispatcher acknowledges it; the
acknowledgement goes up through the outbox and lands on the prefecture's incident. Every message
is taken once by its identifier: an outbox may send one again after a restart.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from dispatch.config.model import Config
from dispatch.core.outbound import UPSTREAM, county_destination, enqueue, new_message_id
from dispatch.events.catalog import InstructionAcknowledged, InstructionReceived, InstructionSent
from dispatch.shared.clock import to_rfc3339
from dispatch.shared.errors import InvalidInput, NotFound, NotLinked
from dispatch.storage import repository
from dispatch.storage.records import Incident
from dispatch.storage.tables import instruction_table, link_incident_table
from dispatch.storage.writer import Tx

SENT = "sent"
RECEIVED = "received"
TEXT_MAX = 2000
IDENTIFIER = re.compile(r"[A-Za-z0-9_.:-]{1,200}")


@dataclass(frozen=True)
class InstructionIn:
    """What a prefecture sends a county (the body of `POST /api/v1/link/instructions`)."""

    identifier: str
    incident_id: int
    """The county's incident."""
    text: str
    sender: str
    """`from`: the prefecture's name."""
    sent_at: datetime


@dataclass(frozen=True)
class AcknowledgementIn:
    """What a county sends back (the body of `POST /api/v1/link/acknowledgements`)."""

    identifier: str
    instruction: str
    by: str
    at: str


@dataclass(frozen=True)
class Taken:
    """A message of the link taken: the incident it landed on, and whether it was taken before."""

    incident_id: int
    identifier: str
    duplicate: bool


def check_identifier(identifier: str, field: str = "identifier") -> str:
    if not IDENTIFIER.fullmatch(identifier):
        raise InvalidInput(
            f"{identifier!r} is not an instruction identifier (1 to 200 letters, digits, '.', '_', ':', '-')",
            field=field,
        )
    return identifier


def check_text(text: str, field: str = "text") -> str:
    text = text.strip()
    if not text:
        raise InvalidInput("an instruction needs its text", field=field)
    if len(text) > TEXT_MAX:
        raise InvalidInput(f"an instruction's text has at most {TEXT_MAX} characters", field=field)
    return text


def _row(tx: Tx, identifier: str, direction: str) -> Any:
    return (
        tx.connection.execute(
            sa.select(instruction_table).where(
                instruction_table.c.identifier == identifier, instruction_table.c.direction == direction
            )
        )
        .mappings()
        .first()
    )


class InstructionDesk:
    """The writer commands of both ends; what goes to the other end goes through the outbox."""

    def __init__(self, config: Config) -> None:
        self.config = config

    @property
    def own_id(self) -> str:
        """The prefecture's name on the link: its top node's id."""
        return self.config.root.id

    @property
    def sender(self) -> str:
        """The county's name on the link: its CAP sender (`upstream.sender`, else its top node's id)."""
        upstream = self.config.upstream
        return upstream.sender if upstream is not None and upstream.sender else self.config.root.id

    # At the prefecture ----------------------------------------------------------------------

    def instruct(self, tx: Tx, incident: Incident, text: str, *, actor: str, causation_id: str | None) -> str:
        link = tx.connection.execute(
            sa.select(link_incident_table).where(link_incident_table.c.incident_id == incident.id)
        ).first()
        if link is None:
            raise NotLinked(f"incident {incident.id} did not come from a county: there is nobody to instruct")
        message_id = new_message_id(tx)
        identifier = f"{self.own_id}.instr.{message_id}"
        county_incident_id = int(link.county_incident_id)
        body = {
            "identifier": identifier,
            "incident_id": county_incident_id,
            "text": text,
            "from": self.config.root.name,
            "sent_at": to_rfc3339(tx.now),
        }
        enqueue(
            tx,
            destination=county_destination(link.sender),
            kind="instruction",
            identifier=identifier,
            path="/api/v1/link/instructions",
            content_type="application/json",
            body=orjson.dumps(body).decode(),
            incident_id=incident.id,
            summary=f"指令 → {link.sender}：{_clip(text)}",
            message_id=message_id,
        )
        self._insert(
            tx, identifier, SENT, incident.id, link.sender, county_incident_id, text, tx.now, message_id
        )
        tx.record(
            InstructionSent(
                occurred_at=tx.now,
                actor=actor,
                causation_id=causation_id,
                incident_id=incident.id,
                identifier=identifier,
                county=link.sender,
                county_incident_id=county_incident_id,
                text=text,
                message_id=message_id,
            )
        )
        return identifier

    def acknowledged(
        self, tx: Tx, ack: AcknowledgementIn, check_county: Callable[[str], None], *, actor: str
    ) -> Taken:
        """A county's acknowledgement; `check_county` refuses a token not speaking for its county."""
        row = _row(tx, ack.instruction, SENT)
        if row is None:
            raise NotFound(f"instruction {ack.instruction!r} was never sent from here", field="instruction")
        check_county(row["county"])
        if row["acknowledged_at"] is not None:
            return Taken(row["incident_id"], ack.instruction, True)
        tx.connection.execute(
            instruction_table.update()
            .where(instruction_table.c.identifier == ack.instruction)
            .values(acknowledged_at=tx.now, acknowledged_by=ack.by)
        )
        tx.record(
            InstructionAcknowledged(
                occurred_at=tx.now,
                actor=actor,
                causation_id=f"link:{ack.identifier}",
                incident_id=row["incident_id"],
                identifier=ack.instruction,
                by=ack.by,
                at=ack.at,
                acknowledgement=ack.identifier,
            )
        )
        return Taken(row["incident_id"], ack.instruction, False)

    # At the county --------------------------------------------------------------------------

    def receive(self, tx: Tx, instruction: InstructionIn, *, actor: str) -> Taken:
        row = _row(tx, instruction.identifier, RECEIVED)
        if row is not None:
            return Taken(row["incident_id"], instruction.identifier, True)
        try:
            incident = repository.incident(tx.connection, instruction.incident_id)
        except NotFound as err:
            raise NotFound(f"incident {instruction.incident_id} does not exist", field="incident_id") from err
        self._insert(
            tx,
            instruction.identifier,
            RECEIVED,
            incident.id,
            self.sender,
            incident.id,
            instruction.text,
            instruction.sent_at.timestamp(),
            None,
            sender=instruction.sender,
        )
        tx.record(
            InstructionReceived(
                occurred_at=tx.now,
                actor=actor,
                causation_id=f"link:{instruction.identifier}",
                incident_id=incident.id,
                identifier=instruction.identifier,
                text=instruction.text,
                sender=instruction.sender,
                sent_at=instruction.sent_at.isoformat(),
            )
        )
        return Taken(incident.id, instruction.identifier, False)

    def acknowledge(
        self, tx: Tx, incident_id: int, identifier: str, by: str, *, actor: str, causation_id: str | None
    ) -> bool:
        """A county dispatcher acknowledges; False when it was acknowledged already."""
        row = _row(tx, identifier, RECEIVED)
        if row is None or row["incident_id"] != incident_id:
            raise NotFound(f"incident {incident_id} has no instruction {identifier!r}", field="identifier")
        if row["acknowledged_at"] is not None:
            return False
        at = to_rfc3339(tx.now)
        tx.connection.execute(
            instruction_table.update()
            .where(instruction_table.c.identifier == identifier)
            .values(acknowledged_at=tx.now, acknowledged_by=by)
        )
        message_id = new_message_id(tx)
        ack_identifier = f"{self.sender}.ack.{message_id}"
        body = {"identifier": ack_identifier, "instruction": identifier, "by": by, "at": at}
        enqueue(
            tx,
            destination=UPSTREAM,
            kind="acknowledgement",
            identifier=ack_identifier,
            path="/api/v1/link/acknowledgements",
            content_type="application/json",
            body=orjson.dumps(body).decode(),
            incident_id=incident_id,
            summary=f"签收指令 {identifier}（{by}）",
            message_id=message_id,
        )
        tx.record(
            InstructionAcknowledged(
                occurred_at=tx.now,
                actor=actor,
                causation_id=causation_id,
                incident_id=incident_id,
                identifier=identifier,
                by=by,
                at=at or "",
                acknowledgement=ack_identifier,
            )
        )
        return True

    def _insert(
        self,
        tx: Tx,
        identifier: str,
        direction: str,
        incident_id: int,
        county: str,
        county_incident_id: int,
        text: str,
        sent_at: float,
        message_id: int | None,
        *,
        sender: str | None = None,
    ) -> None:
        tx.connection.execute(
            instruction_table.insert().values(
                identifier=identifier,
                direction=direction,
                incident_id=incident_id,
                county=county,
                county_incident_id=county_incident_id,
                text=text,
                sender=sender or self.config.root.name,
                sent_at=sent_at,
                message_id=message_id,
            )
        )


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
