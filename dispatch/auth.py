"""Tokens and principals: who is calling, with which role, over which jurisdiction subtree."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa

from dispatch.config import Config
from dispatch.tables import token_table


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
    now: float,
) -> str:
    """Store a new token's hash and return the token; it is shown this once and never again."""
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
    token = "dsp_" + secrets.token_urlsafe(32)
    with engine.begin() as connection:
        connection.execute(
            token_table.insert().values(
                hash=hash_token(token),
                role=parsed_role.value,
                name=name,
                jurisdiction_id=jurisdiction,
                responder_id=responder,
                created_at=now,
            )
        )
    return token


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
    return Principal(Role(row["role"]), row["name"], row["jurisdiction_id"], row["responder_id"])
