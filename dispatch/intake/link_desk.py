"""The prefecture link's door: who may post what over it, and the writer commands it runs."""

from __future__ import annotations

from dataclasses import dataclass

from dispatch.access import authz
from dispatch.access.auth import Principal
from dispatch.access.authz import Action
from dispatch.access.speaks_for import check_link_peer
from dispatch.config.model import Config
from dispatch.intake.county_link import CountyLink, CountyMessage, CountyReceipt
from dispatch.intake.instructions import (
    AcknowledgementIn,
    InstructionDesk,
    InstructionIn,
    Taken,
    check_identifier,
    check_text,
)
from dispatch.intake.pipeline import Intake
from dispatch.shared.errors import Forbidden
from dispatch.storage import repository
from dispatch.storage.writer import Tx, Writer


@dataclass(frozen=True)
class Instructed:
    """An instruction sent: its identifier, on which incident."""

    incident_id: int
    identifier: str


class LinkDesk:
    def __init__(self, config: Config, writer: Writer, intake: Intake) -> None:
        self.config = config
        self.writer = writer
        self.intake = intake
        self.counties = CountyLink(config, intake)
        self.instructions = InstructionDesk(config)

    # At the prefecture ----------------------------------------------------------------------

    async def take_county_message(
        self, message: CountyMessage, principal: Principal, causation_id: str | None = None
    ) -> CountyReceipt:
        """A county's CAP message: opens, joins or cancels its incident here, once."""
        authz.require(principal, Action.USE_LINK)
        check_link_peer(principal, message.sender, "sender")
        if message.alert is not None:
            self.intake.check(message.alert)
        return await self.writer.submit(
            lambda tx: self.counties.take(tx, message, actor=principal.actor, causation_id=causation_id)
        )

    async def instruct(
        self, incident_id: int, text: str, principal: Principal, causation_id: str | None = None
    ) -> Instructed:
        """A prefecture dispatcher's instruction to the county the incident came from."""
        authz.require(principal, Action.ACT_ON_INCIDENT)

        def command(tx: Tx) -> Instructed:
            incident = repository.incident(tx.connection, incident_id)
            authz.check_incident(
                principal, self.config, incident.id, incident.jurisdiction_id, incident.owner_jurisdiction_id
            )
            checked = check_text(text)
            identifier = self.instructions.instruct(
                tx, incident, checked, actor=principal.actor, causation_id=causation_id
            )
            return Instructed(incident.id, identifier)

        return await self.writer.submit(command)

    async def take_acknowledgement(self, ack: AcknowledgementIn, principal: Principal) -> Taken:
        """A county's acknowledgement of an instruction sent from here, once."""
        authz.require(principal, Action.USE_LINK)

        def check_county(county: str) -> None:
            check_link_peer(principal, county)

        return await self.writer.submit(
            lambda tx: self.instructions.acknowledged(tx, ack, check_county, actor=principal.actor)
        )

    # At the county --------------------------------------------------------------------------

    async def receive_instruction(self, instruction: InstructionIn, principal: Principal) -> Taken:
        """The prefecture's instruction about one of this county's incidents, once."""
        authz.require(principal, Action.USE_LINK)
        prefecture = self.config.prefecture
        if prefecture is None:
            raise Forbidden(
                "this server has no prefecture above it (config `prefecture`): nobody may instruct it"
            )
        check_link_peer(principal, prefecture.id)
        return await self.writer.submit(
            lambda tx: self.instructions.receive(tx, instruction, actor=principal.actor)
        )

    async def acknowledge(
        self, incident_id: int, identifier: str, principal: Principal, causation_id: str | None = None
    ) -> bool:
        """A county dispatcher acknowledges an instruction; False: it was acknowledged already."""
        authz.require(principal, Action.ACT_ON_INCIDENT)

        def command(tx: Tx) -> bool:
            incident = repository.incident(tx.connection, incident_id)
            authz.check_incident(
                principal, self.config, incident.id, incident.jurisdiction_id, incident.owner_jurisdiction_id
            )
            check_identifier(identifier)
            return self.instructions.acknowledge(
                tx, incident.id, identifier, principal.name, actor=principal.actor, causation_id=causation_id
            )

        return await self.writer.submit(command)
