"""The links' status: each destination of the outbox, whether it answers, and what waits for it.

Read from the stored rows alone, so any process (a front of `serve --workers N` too) answers
the same: a destination is `down` while the oldest message waiting for it has failed at least
once, `up` once it has taken a message and nothing waiting has failed, `idle` before either.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from dispatch.core.outbound import Destination, MessageState
from dispatch.shared.clock import to_rfc3339
from dispatch.storage.tables import outbound_table


def link_status(connection: sa.Connection, destinations: Sequence[Destination]) -> dict[str, Any]:
    """`GET /api/v1/link`'s body: one entry per destination, in config order."""
    c = outbound_table.c
    queued = MessageState.QUEUED.value
    counts = {
        destination: (waiting, oldest)
        for destination, waiting, oldest in connection.execute(
            sa.select(c.destination, sa.func.count(), sa.func.min(c.created_at))
            .where(c.state == queued)
            .group_by(c.destination)
        )
    }
    delivered = dict(
        connection.execute(
            sa.select(c.destination, sa.func.max(c.delivered_at))
            .where(c.state == MessageState.DELIVERED.value)
            .group_by(c.destination)
        ).all()
    )
    entries = []
    for each in destinations:
        waiting, oldest = counts.get(each.destination, (0, None))
        head = None
        if waiting:
            head = connection.execute(
                sa.select(c.attempts, c.last_error, c.next_try_at)
                .where(c.destination == each.destination, c.state == queued)
                .order_by(c.id)
                .limit(1)
            ).first()
        attempts = head.attempts if head is not None else 0
        last_delivered = delivered.get(each.destination)
        state = "down" if attempts > 0 else ("up" if last_delivered is not None or waiting else "idle")
        entries.append(
            {
                "destination": each.destination,
                "name": each.name,
                "url": each.endpoint.url,
                "state": state,
                "queued": waiting,
                "oldest_queued_at": to_rfc3339(oldest),
                "last_delivered_at": to_rfc3339(last_delivered),
                "last_error": head.last_error if head is not None else None,
                "attempts": attempts,
                "next_try_at": to_rfc3339(head.next_try_at) if head is not None else None,
            }
        )
    return {"destinations": entries}
