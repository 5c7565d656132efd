"""The core without HTTP: a service on a real SQLite file, driven through its writer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
import pytest
import sqlalchemy as sa

from dispatch.config.model import Config
from dispatch.events.bus import EventBus
from dispatch.intake.alerts import AlertIn
from dispatch.intake.pipeline import Received
from dispatch.service import DispatchService
from dispatch.shared.clock import ManualClock
from dispatch.storage import database, repository
from dispatch.storage.records import Incident, Task
from dispatch.storage.tables import event_table
from dispatch.storage.writer import Tx, Writer
from tests.conftest import AUDIT_KEY
from tests.factories import make_config

R = TypeVar("R")
DISPATCHER = "dispatcher:desk"


@dataclass
class Desk:
    """One service with its writer and clock; reads go through the writer too (one connection)."""

    config: Config
    service: DispatchService
    writer: Writer
    clock: ManualClock

    async def run(self, command: Callable[[Tx], R]) -> R:
        return await self.writer.submit(command)

    async def receive(self, *alerts: dict[str, Any]) -> list[Received]:
        items = []
        for body in alerts:
            raw = orjson.dumps(body).decode()
            items.append((AlertIn.model_validate_json(raw), raw))
        return await self.service.submit_alerts(items, batch=len(items) > 1, actor="gateway:test")

    async def incident(self, incident_id: int) -> Incident:
        return await self.run(lambda tx: repository.incident(tx.connection, incident_id))

    async def tasks(self, incident_id: int) -> dict[str, str]:
        """Each responder asked, with its task's state."""
        tasks: list[Task] = await self.run(lambda tx: repository.tasks_of(tx.connection, incident_id))
        return {task.responder_id: task.state for task in tasks}

    async def events(self, incident_id: int) -> list[str]:
        """The types of the incident's events, in the order recorded."""
        query = sa.select(event_table.c.type).where(event_table.c.incident_id == incident_id)
        return await self.run(
            lambda tx: list(tx.connection.execute(query.order_by(event_table.c.seq)).scalars())
        )

    async def trigger(self, incident_id: int, trigger: str, **params: Any) -> bool:
        """An incident trigger, straight into the escalation orchestrator."""
        reason = params.pop("reason", None)

        def command(tx: Tx) -> bool:
            row = repository.incident(tx.connection, incident_id)
            return self.service.escalation.trigger_incident(
                tx, row, trigger, actor=DISPATCHER, reason=reason, params=params
            )

        return await self.run(command)

    async def task_trigger(self, incident_id: int, responder_id: str, trigger: str) -> bool:
        def command(tx: Tx) -> bool:
            [task] = [
                t for t in repository.tasks_of(tx.connection, incident_id) if t.responder_id == responder_id
            ]
            return self.service.escalation.trigger_task(tx, task, trigger, actor=f"responder:{responder_id}")

        return await self.run(command)

    async def fire_deadlines(self) -> int:
        fired, _ = await self.run(self.service.fire_due_deadlines)
        return fired


@pytest.fixture
async def desk(sqlite_url: str, clock: ManualClock) -> AsyncIterator[Desk]:
    config = make_config()
    engine = database.create_engine(sqlite_url, writer=True)
    database.create_schema(engine)
    writer = Writer(engine, EventBus(), clock, audit_key=AUDIT_KEY.secret)
    service = DispatchService(config, writer)
    writer.start()
    await writer.submit(service.sync_responders)
    yield Desk(config, service, writer, clock)
    await writer.stop()
    engine.dispose()
