"""Bearer tokens: issuing one, finding one, and the principal a stored token speaks for."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence

import sqlalchemy as sa

from dispatch.access.binding import Binding, BindingError
from dispatch.access.principal import Principal, Role
from dispatch.access.scoping import department_problem
from dispatch.config.model import Config
from dispatch.events.catalog import TokenIssued
from dispatch.storage import pending_events
from dispatch.storage.tables import token_table

__all__ = [
    "Principal",
    "Role",
    "TokenError",
    "binding_of",
    "has_tokens",
    "hash_token",
    "issue_token",
    "lookup",
    "principal_of",
    "token_id",
]


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
    department: str | None = None,
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
    parsed_role = _issuable_role(role)
    _check_scope(config, parsed_role, jurisdiction, responder)
    if (problem := department_problem(config, parsed_role, department)) is not None:
        raise TokenError(problem)
    if expires_in is not None and expires_in <= 0:
        raise TokenError("--expires must be more than 0")
    binding = _binding(parsed_role, sources, cap_senders)
    token = "dsp_" + secrets.token_urlsafe(32)
    expires_at = None if expires_in is None else now + expires_in
    principal = Principal(parsed_role, name, jurisdiction, responder, binding, department)
    _store(engine, hash_token(token), principal, expires_at, now=now, actor=actor)
    return token


def _issuable_role(role: str) -> Role:
    issuable = [each for each in Role if each != Role.SYSTEM]
    try:
        parsed_role = Role(role)
    except ValueError as err:
        raise TokenError(f"--role must be one of {', '.join(issuable)}") from err
    if parsed_role not in issuable:
        raise TokenError(f"--role must be one of {', '.join(issuable)}")
    return parsed_role


def _check_scope(config: Config, role: Role, jurisdiction: str | None, responder: str | None) -> None:
    """The jurisdiction and responder named exist, and a responder goes with its role only."""
    if jurisdiction is not None and jurisdiction not in config.jurisdiction_by_id:
        raise TokenError(f"--jurisdiction: unknown jurisdiction {jurisdiction!r}")
    if role == Role.RESPONDER:
        if responder is None:
            raise TokenError("--responder is required for the responder role")
        if responder not in config.responder_by_id:
            raise TokenError(f"--responder: unknown responder {responder!r}")
    elif responder is not None:
        raise TokenError("--responder only goes with --role responder")


def _binding(role: Role, sources: Sequence[str], cap_senders: Sequence[str]) -> Binding | None:
    if not sources and not cap_senders:
        return None
    if role != Role.GATEWAY:
        raise TokenError("--source and --cap-sender only go with --role gateway")
    try:
        return Binding.parse(sources, cap_senders)
    except BindingError as err:
        raise TokenError(str(err)) from err


def _store(
    engine: sa.Engine, hashed: str, principal: Principal, expires_at: float | None, *, now: float, actor: str
) -> None:
    """The token's row and its `token_issued` event, in one transaction."""
    binding = principal.binding
    with engine.begin() as connection:
        connection.execute(
            token_table.insert().values(
                hash=hashed,
                role=principal.role.value,
                name=principal.name,
                jurisdiction_id=principal.jurisdiction_id,
                responder_id=principal.responder_id,
                department_id=principal.department_id,
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
                name=principal.name,
                role=principal.role.value,
                jurisdiction=principal.jurisdiction_id,
                responder=principal.responder_id,
                expires_at=expires_at,
                department=principal.department_id,
            ),
        )


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
        Role(row["role"]),
        row["name"],
        row["jurisdiction_id"],
        row["responder_id"],
        binding_of(row),
        row["department_id"],
    )


def binding_of(row: sa.RowMapping) -> Binding | None:
    """The stored binding of a token row; None when it has none (see dispatch/access/speaks_for.py)."""
    if row["sources"] is None and row["cap_senders"] is None:
        return None
    return Binding(tuple(row["sources"] or ()), tuple(row["cap_senders"] or ()))
