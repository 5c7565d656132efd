"""Tokens and principals: who is calling, with which role, over which jurisdiction subtree."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa

from dispatch.access.speaks_for import Binding, BindingError
from dispatch.config.model import Config
from dispatch.events.catalog import TokenIssued
from dispatch.storage import pending_events
from dispatch.storage.tables import token_table


class Role(StrEnum):
    ADMIN = "admin"
    DISPATCHER = "dispatcher"
    RESPONDER = "responder"
    GATEWAY = "gateway"
    SCREEN = "screen"
    """The command hall's big screen: reads the overview, changes nothing."""
    SYSTEM = "system"
    """The server's own hands (deadlines, delivery bookkeeping); never given a token."""


@dataclass(frozen=True)
class Principal:
    role: Role
    name: str
    jurisdiction_id: str | None = None
    responder_id: str | None = None
    binding: Binding | None = None
    """A gateway token's sources and CAP senders; None: unbound (dispatch/access/speaks_for.py)."""

    @property
    def actor(self) -> str:
        return f"{self.role}:{self.name}"


class TokenError(ValueError):
    pass


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    engine: sa.Engine,
    config: Config,
    *,
    role: str,
    name: str,
    jurisdiction: str | None = None,
    responder: str | None = None,
    expires_in: float | None = None,
    actor: str = "cli:unknown",
    sources: Sequence[str] = (),
    cap_senders: Sequence[str] = (),
    now: float,
) -> str:
    """Store a new token's hash and return the token; it is shown this once and never again.

    The `token_issued` event waits in the database until the server chains it
    (dispatch/storage/pending_events.py): this runs in the command's own process.
    """
    issuable = [each for each in Role if each != Role.SYSTEM]
    try:
        parsed_role = Role(role)
    except ValueError as err:
        raise TokenError(f"--role must be one of {', '.join(issuable)}") from err
    if parsed_role not in issuable:
        raise TokenError(f"--role must be one of {', '.join(issuable)}")
    if jurisdiction is not None and jurisdiction not in config.jurisdiction_by_id:
        raise TokenError(f"--jurisdiction: unknown jurisdiction {jurisdiction!r}")
    if parsed_role == Role.RESPONDER:
        if responder is None:
            raise TokenError("--responder is required for the responder role")
        if responder not in config.responder_by_id:
            raise TokenError(f"--responder: unknown responder {responder!r}")
    elif responder is not None:
        raise TokenError("--responder only goes with --role responder")
    if expires_in is not None and expires_in <= 0:
        raise TokenError("--expires must be more than 0")
    binding: Binding | None = None
    if sources or cap_senders:
        if parsed_role != Role.GATEWAY:
            raise TokenError("--source and --cap-sender only go with --role gateway")
        try:
            binding = Binding.parse(sources, cap_senders)
        except BindingError as err:
            raise TokenError(str(err)) from err
    token = "dsp_" + secrets.token_urlsafe(32)
    hashed = hash_token(token)
    expires_at = None if expires_in is None else now + expires_in
    with engine.begin() as connection:
        connection.execute(
            token_table.insert().values(
                hash=hashed,
                role=parsed_role.value,
                name=name,
                jurisdiction_id=jurisdiction,
                responder_id=responder,
                created_at=now,
                expires_at=expires_at,
                sources=list(binding.sources) if binding is not None else None,
                cap_senders=list(binding.cap_senders) if binding is not None else None,
            )
        )
        pending_events.leave(
            connection,
            TokenIssued(
                occurred_at=now,
                actor=actor,
                token=token_id(hashed),
                name=name,
                role=parsed_role.value,
                jurisdiction=jurisdiction,
                responder=responder,
                expires_at=expires_at,
            ),
        )
    return token


def token_id(hashed: str) -> str:
    """How `token list`, `token revoke` and the log name a token: the start of its hash."""
    return hashed[:12]


def has_tokens(engine: sa.Engine) -> bool:
    with engine.connect() as connection:
        return connection.execute(sa.select(token_table.c.hash).limit(1)).first() is not None


def lookup(connection: sa.Connection, token: str) -> Principal | None:
    row = (
        connection.execute(sa.select(token_table).where(token_table.c.hash == hash_token(token)))
        .mappings()
        .first()
    )
    if row is None:
        return None
    return principal_of(row)


def principal_of(row: sa.RowMapping) -> Principal:
    """Who a token row speaks for."""
    return Principal(
        Role(row["role"]), row["name"], row["jurisdiction_id"], row["responder_id"], binding_of(row)
    )


def binding_of(row: sa.RowMapping) -> Binding | None:
    """The stored binding of a token row; None when it has none (see dispatch/access/speaks_for.py)."""
    if row["sources"] is None and row["cap_senders"] is None:
        return None
    return Binding(tuple(row["sources"] or ()), tuple(row["cap_senders"] or ()))
