"""The single writer: one transition at a time, in order; a failure stays its own; publish after commit."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from dispatch.access.auth import Principal, Role
from dispatch.core.outbound import enqueue
from dispatch.events.catalog import AlertReceived, DomainEvent
from dispatch.storage.ledger import verify
from dispatch.storage.tables import event_table, incident_table, outbound_table
from dispatch.storage.writer import Tx
from tests.conftest import Harness
from tests.factories import alert

ADMIN = Principal(Role.ADMIN, "test")


async def test_writer_applies_one_incidents_triggers_in_submission_order(server: Harness) -> None:
    incident_id = (await server.post_alert(alert("e1")))["incident_id"]
    service = server.runtime.service
    moves = ["escalate", "escalate", "delegate", "delegate", "escalate"]

    outcomes = await asyncio.gather(
        *(service.trigger_incident(incident_id, move, ADMIN, reason=str(n)) for n, move in enumerate(moves))
    )

    owners = [outcome.row["owner_jurisdiction_id"] for outcome in outcomes]
    assert owners == ["west", "city", "west", "west-n", "west"]
    incident = await server.incident(incident_id)
    reasons = [
        e["payload"]["reason"]
        for e in incident["timeline"]
        if e["type"] in ("incident_escalated", "incident_delegated") and e["actor"] == "admin:test"
    ]
    assert reasons == ["0", "1", "2", "3", "4"]


async def test_writer_failed_command_leaves_its_batch_neighbours_and_the_chain_intact(
    server: Harness,
) -> None:
    writer = server.runtime.writer

    def fails_after_writing(tx: Tx) -> None:
        tx.connection.execute(incident_table.delete())
        tx.record(
            AlertReceived(
                occurred_at=tx.now,
                actor="test",
                alert_id=0,
                source="x",
                source_event_id="x",
                kind="sensor",
                category="waterlogging",
                severity=3,
                new_incident=False,
                alert_count=0,
            )
        )
        raise RuntimeError("boom")

    good = [server.post_alert(alert(f"g{n}", source=f"gauge-{n}")) for n in range(5)]
    results = await asyncio.gather(writer.submit(fails_after_writing), *good, return_exceptions=True)

    assert isinstance(results[0], RuntimeError)
    assert all(isinstance(result, dict) for result in results[1:])
    count = await server.runtime.read(
        lambda c: c.execute(sa.select(sa.func.count()).select_from(incident_table)).scalar()
    )
    assert count >= 1
    problems = await server.runtime.read(lambda c: list(verify(c, server.runtime.audit_key.secret)))
    assert problems == []


async def test_writer_publishes_events_only_after_commit(server: Harness) -> None:
    seen: list[tuple[int, bool]] = []
    checks: list[asyncio.Future[None]] = []

    async def check(event: DomainEvent) -> None:
        committed = await server.runtime.read(
            lambda c: (
                c.execute(sa.select(event_table.c.seq).where(event_table.c.seq == event.seq)).first()
                is not None
            )
        )
        seen.append((event.seq, committed))

    published: list[int] = []

    def on_event(event: DomainEvent) -> None:
        published.append(event.seq)
        checks.append(asyncio.ensure_future(check(event)))

    server.runtime.bus.subscribe(DomainEvent, on_event)
    await server.post_alert(alert("e1"))
    await asyncio.gather(*checks)

    assert seen
    assert all(committed for _, committed in seen)
    assert published == sorted(published)


async def test_writer_groups_concurrent_requests_into_fewer_commits(server: Harness) -> None:
    writer = server.runtime.writer
    before_batches, before_commands = writer.batches, writer.commands

    answers = await asyncio.gather(*(server.post_alert(alert(f"c{n}", source=f"s{n}")) for n in range(40)))

    assert len({answer["alert_id"] for answer in answers}) == 40
    assert writer.commands - before_commands < 40
    assert writer.batches - before_batches < 40


async def test_writer_handler_failure_does_not_break_publisher(server: Harness) -> None:
    received: list[str] = []

    def broken(event: DomainEvent) -> None:
        raise ValueError("handler bug")

    server.runtime.bus.subscribe(DomainEvent, broken)
    server.runtime.bus.subscribe(AlertReceived, lambda event: received.append(event.source_event_id))

    answer = await server.post_alert(alert("e1"))

    assert answer["duplicate"] is False
    assert received == ["e1"]


async def test_writer_observer_writes_with_the_command_and_rolls_back_with_it(server: Harness) -> None:
    seen: list[list[str]] = []

    def observer(tx: Tx, events: list[DomainEvent]) -> None:
        seen.append([event.type for event in events])
        enqueue(
            tx,
            destination="upstream",
            kind="test",
            identifier=f"test.{len(seen)}",
            path="/",
            content_type="text/plain",
            body="",
            incident_id=events[0].incident_id,
            summary="测试",
        )
        if events[0].actor == "refuse":
            raise RuntimeError("the observer refuses")

    server.runtime.writer.observe(observer)
    received = await server.post_alert(alert("o1"))

    def refused(tx: Tx) -> None:
        tx.record(_received("refuse"))

    try:
        await server.runtime.writer.submit(refused)
    except RuntimeError as err:
        assert str(err) == "the observer refuses"

    assert seen[0][:2] == ["alert_received", "incident_reported"]
    incident = await server.incident(received["incident_id"])
    assert [e["type"] for e in incident["timeline"]][-1] == "outbound_queued"
    query = sa.select(outbound_table.c.identifier).order_by(outbound_table.c.id)
    rows = await server.runtime.read(lambda c: c.execute(query).scalars().all())
    assert rows == ["test.1"]


def _received(actor: str) -> AlertReceived:
    return AlertReceived(
        occurred_at=0.0,
        actor=actor,
        alert_id=0,
        source="x",
        source_event_id="x",
        kind="sensor",
        category="waterlogging",
        severity=3,
        new_incident=False,
        alert_count=0,
    )
