"""Database tables (SQLModel): the rows behind alerts, incidents, tasks, responders and the log.

Times are UTC epoch seconds (float) so SQLite and PostgreSQL compare them alike; ids are
integers allocated by the single writer (see dispatch/storage/writer.py).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import JSON, Column, Field, SQLModel

# 64-bit on PostgreSQL (the log outlives 2^31 events); SQLite's INTEGER is 64-bit already and
# must stay INTEGER to remain the rowid.
BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class ResponderRow(SQLModel, table=True):
    __tablename__ = "responder"

    id: str = Field(primary_key=True)
    name: str
    jurisdiction_id: str = Field(index=True)
    department_id: str | None = None
    skills: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = "available"
    lat: float
    lon: float
    position_at: float | None = None
    updated_at: float


class AlertRow(SQLModel, table=True):
    __tablename__ = "alert"
    __table_args__ = (sa.Index("ix_alert_source_category", "source", "category", "id"),)

    id: int = Field(primary_key=True, sa_type=BIG, sa_column_kwargs={"autoincrement": False})
    source: str
    source_event_id: str
    key: str = Field(sa_column=Column(sa.Text, nullable=False, unique=True))
    """The idempotency key (source, source_event_id) as one column, so a batch of keys is one
    indexed IN lookup on every database (SQLite plans a row-value IN as a table scan)."""
    kind: str
    category: str
    severity: int
    lat: float | None = None
    lon: float | None = None
    jurisdiction_id: str
    observed_at: float
    received_at: float
    title: str | None = None
    description: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    raw: str = Field(sa_column=Column(sa.Text, nullable=False))
    incident_id: int = Field(index=True, sa_type=BIG)
    resolved_at: float | None = None
    """When its sender said the condition is over (dispatch/intake/status.py)."""
    cancelled_at: float | None = None
    """When its sender withdrew it (a CAP Cancel)."""


class IncidentRow(SQLModel, table=True):
    __tablename__ = "incident"
    __table_args__ = (sa.Index("ix_incident_place", "place", "last_alert_at"),)

    id: int = Field(primary_key=True, sa_type=BIG, sa_column_kwargs={"autoincrement": False})
    category: str
    severity: int
    state: str = Field(index=True)
    title: str | None = None
    lat: float | None = None
    lon: float | None = None
    jurisdiction_id: str
    place: str
    """category/jurisdiction: where nearby alerts of the same kind look for it (indexed)."""
    outside_area: bool = False
    owner_jurisdiction_id: str = Field(index=True)
    owner_tier: str
    departments: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    alert_count: int = 1
    first_alert_at: float
    last_alert_at: float
    policy_name: str
    policy: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    step_index: int = 0
    step_deadline_at: float | None = Field(default=None, index=True)
    forwarded: bool = False
    merged_into: int | None = None
    summary: str | None = None
    milestones: dict[str, float] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: float
    updated_at: float = Field(index=True)


class TaskRow(SQLModel, table=True):
    __tablename__ = "task"

    id: int = Field(primary_key=True, sa_type=BIG, sa_column_kwargs={"autoincrement": False})
    incident_id: int = Field(index=True, sa_type=BIG)
    responder_id: str = Field(index=True)
    state: str
    tier: str
    step_index: int
    distance_m: float | None = None
    accept_deadline_at: float | None = None
    delivered_via: str | None = None
    milestones: dict[str, float] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: float
    updated_at: float


class DepartmentTaskRow(SQLModel, table=True):
    """A co-handling department's part of an incident (协办): one open per (incident, department)."""

    __tablename__ = "department_task"

    id: int = Field(primary_key=True, sa_type=BIG, sa_column_kwargs={"autoincrement": False})
    incident_id: int = Field(index=True, sa_type=BIG)
    department_id: str = Field(index=True)
    state: str = Field(index=True)
    reason: str | None = None
    """decline: why (required); complete, cancel: what was said, if anything."""
    accept_by: float | None = Field(default=None, index=True)
    """Not accepted by then: escalated to the city center (once)."""
    escalated: bool = False
    milestones: dict[str, float] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: float
    updated_at: float


class EventRow(SQLModel, table=True):
    """The append-only, hash-chained event log (docs/architecture.md)."""

    __tablename__ = "event"
    __table_args__ = (sa.Index("ix_event_occurred_at", "occurred_at"),)
    """Statistics read a day's events by time (dispatch/views/stats.py)."""

    seq: int = Field(primary_key=True, sa_type=BIG, sa_column_kwargs={"autoincrement": False})
    occurred_at: float
    actor: str
    causation_id: str | None = None
    incident_id: int | None = Field(default=None, index=True, sa_type=BIG)
    task_id: int | None = Field(default=None, index=True, sa_type=BIG)
    type: str
    payload: str = Field(sa_column=Column(sa.Text, nullable=False))
    prev_hash: str
    hash: str


class ChainHeadRow(SQLModel, table=True):
    """The newest (seq, hash) of the log, so that cutting rows off its end is detected too."""

    __tablename__ = "chain_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = Field(sa_type=BIG)
    hash: str


class TokenRow(SQLModel, table=True):
    __tablename__ = "token"

    hash: str = Field(primary_key=True)
    role: str
    name: str
    jurisdiction_id: str | None = None
    responder_id: str | None = None
    department_id: str | None = None
    """dispatcher: the department (sub-center) it works for; None: the city's own desks."""
    created_at: float
    expires_at: float | None = None
    """`token issue --expires`: refused from then on; None never expires."""
    revoked_at: float | None = None
    """`token revoke`: refused from then on, and its open sockets are closed."""
    last_used_at: float | None = None
    """When the server last accepted it, written every half minute or so (dispatch/access/credentials.py)."""
    sources: list[str] | None = Field(default=None, sa_column=Column(JSON(none_as_null=True), nullable=True))
    """Gateway: glob patterns of the alert sources it speaks for; NULL with cap_senders: unbound
    (dispatch/access/speaks_for.py)."""
    cap_senders: list[str] | None = Field(
        default=None, sa_column=Column(JSON(none_as_null=True), nullable=True)
    )
    """Gateway: glob patterns of the CAP senders it speaks for."""


class UserRow(SQLModel, table=True):
    """A person who logs in at the login page (dispatch/access/accounts.py); machines use tokens."""

    __tablename__ = "user_account"

    name: str = Field(primary_key=True)
    role: str
    jurisdiction_id: str | None = None
    responder_id: str | None = None
    department_id: str | None = None
    """dispatcher: the department (sub-center) it works for; None: the city's own desks."""
    password_hash: str
    """argon2id, as argon2-cffi writes it; the password itself is never stored."""
    disabled: bool = False
    failed_logins: int = 0
    """Wrong passwords in a row since the last good one."""
    locked_until: float | None = None
    """After too many wrong passwords, no attempt is even checked before this time."""
    totp_secret: str | None = None
    """Admins' second factor (RFC 6238, base32), set by `user add --role admin` or `user totp-reset`."""
    totp_last_step: int | None = None
    """The time step of the last code accepted: a code is good for one login only."""
    created_at: float
    updated_at: float


class SessionRow(SQLModel, table=True):
    """A browser's login: the cookie holds the id, only its SHA-256 is kept."""

    __tablename__ = "login_session"

    id_hash: str = Field(primary_key=True)
    user_name: str = Field(index=True)
    csrf_token: str
    """Sent back by the page in X-CSRF-Token on every state-changing request."""
    created_at: float
    expires_at: float = Field(index=True)


class PendingEventRow(SQLModel, table=True):
    """An event recorded by a command-line process, waiting for the server's writer to chain it.

    The log has a single author (dispatch/storage/writer.py): `dispatch token issue` and `token revoke`
    run in another process, so they leave their events here in the same transaction as their
    change, and the server moves them into the log (at start and every half minute).
    """

    __tablename__ = "pending_event"

    id: int | None = Field(default=None, primary_key=True)
    occurred_at: float
    actor: str
    type: str
    payload: str = Field(sa_column=Column(sa.Text, nullable=False))


class LinkIncidentRow(SQLModel, table=True):
    """At the prefecture: which incident here stands for a county's incident (CAP sender + `incidents`)."""

    __tablename__ = "link_incident"

    sender: str = Field(primary_key=True)
    county_incident_id: str = Field(primary_key=True)
    incident_id: int = Field(index=True, sa_type=BIG)
    created_at: float


class LinkMessageRow(SQLModel, table=True):
    """At the prefecture: each CAP message a county sent over the link, taken exactly once."""

    __tablename__ = "link_message"

    sender: str = Field(primary_key=True)
    identifier: str = Field(primary_key=True)
    msg_type: str
    incident_id: int | None = Field(default=None, sa_type=BIG)
    """The prefecture's incident it was about; None: a Cancel of an incident never received."""
    received_at: float


class InstructionRow(SQLModel, table=True):
    """An instruction (指令) of the prefecture: sent from there, received here, acknowledged by the county."""

    __tablename__ = "instruction"

    identifier: str = Field(primary_key=True)
    direction: str
    """sent (at the prefecture) or received (at the county)."""
    incident_id: int = Field(index=True, sa_type=BIG)
    """This server's incident."""
    county: str
    """The county it is for (at the county: this server's own sender id)."""
    county_incident_id: int = Field(sa_type=BIG)
    text: str = Field(sa_column=Column(sa.Text, nullable=False))
    sender: str
    """Who sent it: the prefecture's name."""
    sent_at: float
    message_id: int | None = Field(default=None, sa_type=BIG)
    """At the prefecture: the outbound message carrying it."""
    acknowledged_at: float | None = Field(default=None, index=True)
    acknowledged_by: str | None = None


class OutboundMessageRow(SQLModel, table=True):
    """A message for another server (prefecture, county, department webhook), sent in id order."""

    __tablename__ = "outbound_message"
    __table_args__ = (
        sa.Index("ix_outbound_destination_state", "destination", "state", "id"),
        sa.Index("ix_outbound_destination_incident", "destination", "incident_id"),
        sa.UniqueConstraint("destination", "identifier", name="uq_outbound_destination_identifier"),
    )

    id: int = Field(primary_key=True, sa_type=BIG, sa_column_kwargs={"autoincrement": False})
    destination: str
    """upstream, county:<id> or department:<id> (dispatch/core/outbound.py)."""
    incident_id: int | None = Field(default=None, sa_type=BIG)
    kind: str
    identifier: str
    path: str
    content_type: str
    body: str = Field(sa_column=Column(sa.Text, nullable=False))
    state: str = "queued"
    attempts: int = 0
    next_try_at: float | None = None
    last_error: str | None = None
    created_at: float
    delivered_at: float | None = None
    receipt: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSON(none_as_null=True), nullable=True)
    )
    summary: str


responder_table: sa.Table = ResponderRow.__table__  # type: ignore[attr-defined]
alert_table: sa.Table = AlertRow.__table__  # type: ignore[attr-defined]
incident_table: sa.Table = IncidentRow.__table__  # type: ignore[attr-defined]
task_table: sa.Table = TaskRow.__table__  # type: ignore[attr-defined]
department_task_table: sa.Table = DepartmentTaskRow.__table__  # type: ignore[attr-defined]
event_table: sa.Table = EventRow.__table__  # type: ignore[attr-defined]
chain_head_table: sa.Table = ChainHeadRow.__table__  # type: ignore[attr-defined]
token_table: sa.Table = TokenRow.__table__  # type: ignore[attr-defined]
user_table: sa.Table = UserRow.__table__  # type: ignore[attr-defined]
session_table: sa.Table = SessionRow.__table__  # type: ignore[attr-defined]
pending_event_table: sa.Table = PendingEventRow.__table__  # type: ignore[attr-defined]
link_incident_table: sa.Table = LinkIncidentRow.__table__  # type: ignore[attr-defined]
link_message_table: sa.Table = LinkMessageRow.__table__  # type: ignore[attr-defined]
instruction_table: sa.Table = InstructionRow.__table__  # type: ignore[attr-defined]
outbound_table: sa.Table = OutboundMessageRow.__table__  # type: ignore[attr-defined]
