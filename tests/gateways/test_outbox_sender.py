"""The outbox's sender against the prefecture's stand-in on loopback: order, backoff, refusals."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from dispatch.core.outbound import UPSTREAM, enqueue
from dispatch.shared.clock import ManualClock
from dispatch.storage.tables import event_table, outbound_table
from dispatch.storage.transaction import Tx
from tests.conftest import Harness
from tests.county_link import UPSTREAM_TOKEN, CountyFactory, county_config, make_county
from tests.prefecture_standin import PrefectureStandIn, eventually, prefecture

__all__ = ["make_county", "prefecture"]


def _queue(*identifiers: str) -> Any:
    def command(tx: Tx) -> list[int]:
        return [
            enqueue(
                tx,
                destination=UPSTREAM,
                kind="cap",
                identifier=identifier,
                path="/api/v1/link/cap",
                content_type="application/cap+xml",
                body=f"<alert><identifier>{identifier}</identifier></alert>",
                incident_id=None,
                summary=f"测试 {identifier}",
            )
            for identifier in identifiers
        ]

    return command


async def _rows(county: Harness) -> list[dict[str, Any]]:
    def read(connection: sa.Connection) -> list[dict[str, Any]]:
        c = outbound_table.c
        rows = connection.execute(sa.select(c.identifier, c.state, c.attempts, c.receipt).order_by(c.id))
        return [dict(row) for row in rows.mappings()]

    return await county.runtime.read(read)


def _keys(prefecture: PrefectureStandIn) -> list[str]:
    return [each.headers["Idempotency-Key"] for each in prefecture.accepted]


async def _attempts(county: Harness, times: int) -> bool:
    """The first message's failed attempts are stored (its next try is then on the clock)."""
    return (await _rows(county))[0]["attempts"] == times


async def _event_types(county: Harness) -> list[str]:
    def read(connection: sa.Connection) -> list[str]:
        c = event_table.c
        return list(
            connection.execute(sa.select(c.type).where(c.type.like("outbound_%")).order_by(c.seq)).scalars()
        )

    return await county.runtime.read(read)


async def test_outbox_sends_queued_messages_in_order_with_token_and_key(
    make_county: CountyFactory, prefecture: PrefectureStandIn
) -> None:
    county = await make_county(county_config(prefecture.url))

    await county.runtime.writer.submit(_queue("county.a", "county.b", "county.c"))

    await prefecture.until(lambda: len(prefecture.accepted) == 3, "three messages")
    assert [each.headers["Idempotency-Key"] for each in prefecture.accepted] == [
        "county.a",
        "county.b",
        "county.c",
    ]
    first = prefecture.accepted[0]
    assert first.path == "/api/v1/link/cap"
    assert first.headers["Authorization"] == f"Bearer {UPSTREAM_TOKEN}"
    assert first.headers["Content-Type"] == "application/cap+xml"
    assert first.body == "<alert><identifier>county.a</identifier></alert>"

    async def all_delivered() -> bool:
        return [row["state"] for row in await _rows(county)] == ["delivered"] * 3

    await eventually(all_delivered, "the rows marked delivered")
    rows = await _rows(county)
    assert rows[0]["receipt"] == {"http_status": 202, "status": "accepted", "incident_id": 1}
    assert await _event_types(county) == ["outbound_queued"] * 3 + ["outbound_delivered"] * 3


async def test_outbox_holds_while_down_and_delivers_each_once_in_order_after(
    make_county: CountyFactory, prefecture: PrefectureStandIn, clock: ManualClock
) -> None:
    county = await make_county(county_config(prefecture.url))
    prefecture.down = True

    await county.runtime.writer.submit(_queue("county.1", "county.2"))
    await eventually(lambda: _attempts(county, 1), "a first attempt")
    for tried in range(2, 8):  # a minute of clock time: one attempt per backoff, none in between
        clock.advance(10)
        await eventually(lambda tried=tried: _attempts(county, tried), "the next attempt")
    await county.runtime.writer.submit(_queue("county.3"))
    assert len(prefecture.received) == 7
    assert {each.headers["Idempotency-Key"] for each in prefecture.received} == {"county.1"}
    rows = await _rows(county)
    assert [row["state"] for row in rows] == ["queued"] * 3
    assert rows[0]["attempts"] == 7

    prefecture.down = False
    clock.advance(10)

    await prefecture.until(lambda: len(prefecture.accepted) == 3, "the queue emptied")
    assert [each.headers["Idempotency-Key"] for each in prefecture.accepted] == [
        "county.1",
        "county.2",
        "county.3",
    ]
    assert set(prefecture.identifiers().values()) == {1}


async def test_outbox_retries_a_refused_connection_with_backoff(
    make_county: CountyFactory, prefecture: PrefectureStandIn, clock: ManualClock
) -> None:
    county = await make_county(county_config(prefecture.url))
    await prefecture.stop()

    await county.runtime.writer.submit(_queue("county.x"))

    await eventually(lambda: _attempts(county, 1), "a refused connection counted")
    clock.advance(1)  # retry.first
    await eventually(lambda: _attempts(county, 2), "the second attempt after 1 s")
    clock.advance(1.5)  # doubling: the third is due 2 s after the second
    assert (await _rows(county))[0]["attempts"] == 2
    await prefecture.start()
    clock.advance(0.5)

    await prefecture.until(lambda: len(prefecture.accepted) == 1, "delivered once it listens again")
    assert prefecture.accepted[0].headers["Idempotency-Key"] == "county.x"


async def test_outbox_marks_a_refused_message_and_sends_the_next(
    make_county: CountyFactory, prefecture: PrefectureStandIn
) -> None:
    county = await make_county(county_config(prefecture.url))
    prefecture.refuse = 422

    await county.runtime.writer.submit(_queue("county.bad"))

    async def refused() -> bool:
        return [row["state"] for row in await _rows(county)] == ["refused"]

    await eventually(refused, "the message marked refused")
    prefecture.refuse = None
    await county.runtime.writer.submit(_queue("county.good"))

    await prefecture.until(lambda: len(prefecture.accepted) == 1, "the next message delivered")
    assert prefecture.accepted[0].headers["Idempotency-Key"] == "county.good"
    assert "outbound_refused" in await _event_types(county)
