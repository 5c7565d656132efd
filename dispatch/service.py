"""The dispatch service: the one door through which alerts and triggers change state."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from dispatch.access import authz
from dispatch.access.auth import Principal, Role
from dispatch.config.model import Config
from dispatch.core import responder_status
from dispatch.core.department_desk import DepartmentTaskDoor
from dispatch.core.escalation import Escalation
from dispatch.core.incident_planning import not_a_child
from dispatch.core.routing import Router
from dispatch.intake.alerts import AlertIn, AlertKind
from dispatch.intake.calls import CallMessage, CallOutcome, Calls
from dispatch.intake.pipeline import Intake, IntakeItem, Received
from dispatch.intake.queue import IntakeQueue
from dispatch.intake.status import AlertStatus, AlertStatusChange, AlertUpdate
from dispatch.intake.wire_limits import TimeWindow
from dispatch.ops.metrics import Metrics
from dispatch.shared.errors import IllegalTransition, NotFound
from dispatch.storage import queries, repository
from dispatch.storage.records import Incident, Task
from dispatch.storage.tables import responder_table
from dispatch.storage.writer import Tx, Writer
from state_machines import INCIDENT, TASK, IncidentTrigger, ResponderStatus, TaskTrigger

SYSTEM = Principal(Role.SYSTEM, "delivery")
ROSTER = Principal(Role.SYSTEM, "roster")
"""Who takes a unit off duty when it leaves the roster of config.yaml."""


@dataclass(frozen=True)
class Outcome:
    """The record after a trigger, whether it changed (a repeat changes nothing), and what next."""

    record: Incident | Task
    changed: bool
    triggers: list[str]
    """The triggers the caller may send now, in the record's new state."""

    @property
    def row(self) -> dict[str, Any]:
        """The record's columns, as the JSON views (storage/queries.py) read them."""
        return self.record.as_row()


class DispatchService(DepartmentTaskDoor):
    def __init__(self, config: Config, writer: Writer, metrics: Metrics | None = None) -> None:
        self.config = config
        self.writer = writer
        self.metrics = metrics or Metrics()
        self.router = Router(config)
        self.escalation = Escalation(config)
        self.intake = Intake(config, self.router, self.escalation, writer.clock)
        self._intake_queue = IntakeQueue(writer, self.intake)
        self.alert_status = AlertStatus(config, self.escalation)
        self.accepted_alerts = 0
        """Alerts stored (not duplicates) since this process started, from every gateway."""

    # Alerts -----------------------------------------------------------------------------------

    def time_window(self) -> TimeWindow:
        """When a sender's times may lie, now (config `intake.max_future_skew`)."""
        return self.intake.time_window()

    async def submit_alerts(
        self,
        alerts: Sequence[tuple[AlertIn, str]],
        *,
        batch: bool,
        actor: str,
        causation_id: str | None = None,
        at: Sequence[int] | None = None,
    ) -> list[Received]:
        """Check the alerts against config.yaml, then record them; returns once they are durably
        committed (never before). One refused, none is written: the error's field is `alerts.N.…`
        in a batch, N the alert's index in `alerts` or, given `at`, in the sender's message."""
        indexes = range(len(alerts)) if at is None else at
        for index, (alert, _) in zip(indexes, alerts, strict=True):
            self.intake.check(alert, f"alerts.{index}." if batch else "")
        if not alerts:
            return []
        items = [IntakeItem(alert, raw, actor, causation_id) for alert, raw in alerts]
        received = await self._intake_queue.submit(items)
        self.accepted_alerts += sum(1 for each in received if not each.duplicate)
        self.metrics.count_received(received)
        return received

    async def take_call(
        self, call: CallMessage, raw: str, *, actor: str, causation_id: str | None = None
    ) -> CallOutcome:
        """One message of a phone call: its alert received, or the alert of its call (or of the
        same caller's recent call) rewritten, in one writer transaction."""
        if call.alert is not None:
            self.intake.check(call.alert)
        calls = Calls(self.config, self.intake, self.alert_status)
        outcome: CallOutcome = await self.writer.submit(
            lambda tx: calls.take(tx, call, raw, actor=actor, causation_id=causation_id)
        )
        if outcome.received is not None:
            self.accepted_alerts += 0 if outcome.received.duplicate else 1
            self.metrics.count_received([outcome.received])
        return outcome

    async def update_alert(
        self,
        source: str,
        source_event_id: str,
        attributes: dict[str, Any],
        changes: Callable[[Mapping[str, Any]], dict[str, Any]],
        *,
        actor: str,
        causation_id: str | None = None,
        kind: AlertKind | None = None,
    ) -> AlertUpdate | None:
        """Rewrite the alert's attributes if `changes` of the stored ones finds any; None: no such
        alert (of `kind`, if given)."""

        def command(tx: Tx) -> AlertUpdate | None:
            return self.alert_status.update(
                tx,
                source,
                source_event_id,
                attributes,
                changes,
                actor=actor,
                causation_id=causation_id,
                kind=kind,
            )

        return await self.writer.submit(command)

    async def resolve_alert(
        self,
        source: str,
        source_event_id: str,
        *,
        actor: str,
        reason: str | None = None,
        causation_id: str | None = None,
        kind: AlertKind | None = None,
    ) -> AlertStatusChange | None:
        """The sender says the alert is over; None if that alert (of `kind`) was never received."""

        def command(tx: Tx) -> AlertStatusChange | None:
            return self.alert_status.resolve(
                tx, source, source_event_id, actor=actor, reason=reason, causation_id=causation_id, kind=kind
            )

        return await self.writer.submit(command)

    async def cancel_alert(
        self,
        source: str,
        source_event_id: str,
        *,
        actor: str,
        reason: str | None = None,
        causation_id: str | None = None,
    ) -> list[AlertStatusChange]:
        """The sender withdraws the alert (and those it superseded); empty if never received."""
        return await self.cancel_alerts(
            [(source, source_event_id)], actor=actor, reason=reason, causation_id=causation_id
        )

    async def cancel_alerts(
        self,
        keys: Sequence[tuple[str, str]],
        *,
        actor: str,
        reason: str | None = None,
        causation_id: str | None = None,
        kind: AlertKind | None = None,
    ) -> list[AlertStatusChange]:
        """Withdraw several (source, source_event_id) alerts (of `kind`) in one transaction, each once."""

        def command(tx: Tx) -> list[AlertStatusChange]:
            return self.alert_status.cancel(
                tx, keys, actor=actor, reason=reason, causation_id=causation_id, kind=kind
            )

        return await self.writer.submit(command)

    # Triggers ---------------------------------------------------------------------------------
    # Every transport (REST, WebSocket, MQTT acks) calls these with the caller's principal, and
    # only these decide: the role and its triggers first, then, inside the writer transaction
    # (so the check and the change see the same rows), the scope of everything touched.

    @staticmethod
    def check_incident_trigger(principal: Principal, trigger: str) -> None:
        """May this role send `trigger` at all? Needs no rows: a transport asks before it reads
        a body, so a caller refused learns nothing of it. trigger_incident asks again."""
        authz.check_incident_trigger(principal, trigger)

    @staticmethod
    def check_task_trigger(principal: Principal, trigger: str) -> None:
        """As check_incident_trigger, for a task trigger."""
        authz.check_task_trigger(principal, trigger)

    async def trigger_incident(
        self,
        incident_id: int,
        trigger: str,
        principal: Principal,
        *,
        reason: str | None = None,
        causation_id: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> Outcome:
        self.check_incident_trigger(principal, trigger)
        mine = authz.incident_triggers(principal)

        def command(tx: Tx) -> Outcome:
            row = repository.incident(tx.connection, incident_id)
            self._check_scope(principal, row)
            self._check_touched(tx, principal, row, trigger, params or {})
            changed = self.escalation.trigger_incident(
                tx,
                row,
                trigger,
                actor=principal.actor,
                causation_id=causation_id,
                reason=reason,
                params=params,
            )
            return Outcome(row, changed, _next(INCIDENT.triggers_from(row.state), mine))

        try:
            return await self.writer.submit(command)
        except IllegalTransition as err:
            raise err.only(mine) from None

    async def trigger_task(
        self,
        task_id: int,
        trigger: str,
        principal: Principal,
        *,
        note: str | None = None,
        channel: str | None = None,
        causation_id: str | None = None,
    ) -> Outcome:
        self.check_task_trigger(principal, trigger)
        mine = authz.task_triggers(principal)

        def command(tx: Tx) -> Outcome:
            row = repository.task(tx.connection, task_id)
            incident = repository.incident(tx.connection, row.incident_id)
            authz.check_task(
                principal,
                self.config,
                task_id,
                row.responder_id,
                incident.jurisdiction_id,
                incident.owner_jurisdiction_id,
            )
            changed = self.escalation.trigger_task(
                tx,
                row,
                trigger,
                actor=principal.actor,
                causation_id=causation_id,
                note=note,
                channel=channel,
            )
            return Outcome(row, changed, _next(TASK.triggers_from(row.state), mine))

        try:
            return await self.writer.submit(command)
        except IllegalTransition as err:
            raise err.only(mine) from None

    async def mark_sent(self, pushed: Sequence[tuple[int, str]]) -> None:
        """Task frames went out, each on its channel: pending becomes sent (later states stay).

        One writer command for many pushes: under load every new task is pushed at least once.
        A task expired or cancelled meanwhile is left as it is.
        """

        def command(tx: Tx) -> None:
            for task_id, channel in pushed:

                def send(tx: Tx, task_id: int = task_id, channel: str = channel) -> None:
                    with contextlib.suppress(IllegalTransition, NotFound):
                        row = repository.task(tx.connection, task_id)
                        self.escalation.trigger_task(
                            tx, row, TaskTrigger.SEND, actor=SYSTEM.actor, channel=channel
                        )

                tx.isolated(send)

        await self.writer.submit(command)

    def _check_scope(self, principal: Principal, incident: Incident) -> None:
        authz.check_incident(
            principal, self.config, incident.id, incident.jurisdiction_id, incident.owner_jurisdiction_id
        )

    def _check_touched(
        self, tx: Tx, principal: Principal, row: Incident, trigger: str, params: Mapping[str, Any]
    ) -> None:
        """What the trigger names besides its incident is in the caller's scope too.

        A delegate's jurisdiction too: handing an incident to a node outside the caller's
        subtree answers as an unknown node does.

        Checked in the same transaction as the change, so both see the same rows. A task named
        by reassign must be one of this incident's (the lifecycle checks), so it is in scope.
        """
        into = params.get("into_incident_id")
        if trigger == IncidentTrigger.MERGE and isinstance(into, int) and into != row.id:
            place = queries.incident_scope_ids(tx.connection, into)
            authz.check_touched_incident(principal, self.config, into, place, "into_incident_id")
        wanted = params.get("jurisdiction")
        if (
            trigger == IncidentTrigger.DELEGATE
            and isinstance(wanted, str)
            and not authz.covers_node(principal, self.config, wanted)
        ):
            raise not_a_child(wanted, row.owner_jurisdiction_id)  # as an unknown one
        responder_id = params.get("responder_id")
        if (
            trigger in (IncidentTrigger.ASSIGN, IncidentTrigger.REASSIGN)
            and isinstance(responder_id, str)
            and responder_id
        ):
            unit = repository.responder(tx.connection, responder_id)
            authz.check_responder(
                principal, self.config, responder_id, None if unit is None else unit.jurisdiction_id
            )

    # Deadlines --------------------------------------------------------------------------------

    def fire_due_deadlines(self, tx: Tx, limit: int = 200) -> tuple[int, float | None]:
        """Fire every step deadline that has passed; returns how many, and the next one."""
        return self.escalation.fire_due_deadlines(tx, limit)

    # Start -------------------------------------------------------------------------------------

    async def prepare(self) -> None:
        """Before the first request: the roster of config.yaml into the table, and intake's
        index of open incidents loaded from the database."""
        await self.writer.submit(self.sync_responders)
        await self.writer.submit(self.intake.correlator.rebuild)

    # Responders -------------------------------------------------------------------------------

    def sync_responders(self, tx: Tx) -> None:
        """Bring the roster in config.yaml into the table; status and position are kept."""
        existing = {row.id: row for row in tx.connection.execute(sa.select(responder_table.c.id))}
        for responder in self.config.responders:
            values = {
                "name": responder.name,
                "jurisdiction_id": responder.jurisdiction,
                "department_id": responder.department,
                "skills": list(responder.skills),
                "updated_at": tx.now,
            }
            if responder.id in existing:
                tx.connection.execute(
                    sa.update(responder_table).where(responder_table.c.id == responder.id).values(**values)
                )
            else:
                tx.connection.execute(
                    responder_table.insert().values(
                        id=responder.id,
                        status=ResponderStatus.AVAILABLE.value,
                        lat=responder.home.lat,
                        lon=responder.home.lon,
                        **values,
                    )
                )
        for removed in sorted(set(existing) - set(self.config.responder_by_id)):
            responder_status.change(
                tx, removed, ResponderStatus.OFF_DUTY, actor=ROSTER.actor, causation_id="config"
            )

    # --- h/web: read-only figures for the web layer (added at the end for an easy merge) ---------

    def committed_seq(self) -> int:
        """The sequence number of the newest event the writer committed (0: none yet)."""
        return self.writer.ledger.head.seq


def _next(triggers: list[str], mine: frozenset[str]) -> list[str]:
    return [each for each in triggers if each in mine]
