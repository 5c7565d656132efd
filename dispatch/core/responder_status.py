"""A unit's status (available, busy, off duty): every change written with its event in the log."""

from __future__ import annotations

import sqlalchemy as sa

from dispatch.events.catalog import ResponderStatusChanged
from dispatch.storage import repository
from dispatch.storage.tables import responder_table
from dispatch.storage.writer import Tx
from state_machines import ResponderStatus

_status_of = sa.select(responder_table.c.status).where(responder_table.c.id == sa.bindparam("id"))


def change(
    tx: Tx,
    responder_id: str,
    status: ResponderStatus,
    *,
    actor: str,
    causation_id: str | None,
    incident_id: int | None = None,
    task_id: int | None = None,
    current: str | None = None,
) -> None:
    """Set the unit's status; record `responder_status_changed` when it really changes.

    `current` spares a read when the caller holds the unit's row already.
    """
    before = (
        current if current is not None else tx.connection.execute(_status_of, {"id": responder_id}).scalar()
    )
    repository.set_responder_status(tx.connection, responder_id, status, tx.now)
    tx.roster_changed(responder_id, status == ResponderStatus.AVAILABLE)
    if before is None or before == status:
        return
    tx.record(
        ResponderStatusChanged(
            occurred_at=tx.now,
            actor=actor,
            causation_id=causation_id,
            responder_id=responder_id,
            from_status=before,
            to_status=str(status),
            for_incident_id=incident_id,
            for_task_id=task_id,
        )
    )
