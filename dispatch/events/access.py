"""Events of who could act: people logging in and out, units on and off duty, tokens issued and revoked."""

from __future__ import annotations

from dataclasses import dataclass

from dispatch.events.base import DomainEvent


@dataclass(frozen=True, kw_only=True)
class UserLoggedIn(DomainEvent, type="user_logged_in"):
    user: str
    role: str
    remote: str | None
    """The browser's address as the server saw it."""


@dataclass(frozen=True, kw_only=True)
class UserLoggedOut(DomainEvent, type="user_logged_out"):
    user: str
    role: str
    remote: str | None


@dataclass(frozen=True, kw_only=True)
class UserLoginFailed(DomainEvent, type="user_login_failed"):
    """A refused login. `user` is the name as typed (cut to 64 characters), known or not."""

    user: str
    reason: str
    """unknown_user, wrong_password, disabled or throttled."""
    failures: int
    """Wrong passwords in a row for this account (0 for an unknown name)."""
    locked_until: float | None
    """Set once failures reach the limit: no attempt is checked before then."""
    remote: str | None


# Responders: who could act, and in what state (the audit trail) -------------------------------


@dataclass(frozen=True, kw_only=True)
class ResponderStatusChanged(DomainEvent, type="responder_status_changed"):
    """A unit became busy (tasked), available (its task ended) or off duty (left the roster).

    Not an incident's event (the envelope's incident and task stay empty, so no timeline or
    socket carries it); `for_incident_id`/`for_task_id` name what caused it.
    """

    responder_id: str
    from_status: str
    to_status: str
    for_incident_id: int | None = None
    for_task_id: int | None = None


# Tokens: `dispatch token issue` and `token revoke` ----------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TokenIssued(DomainEvent, type="token_issued"):
    """`dispatch token issue`; the actor is who ran it (`cli:` and the operating-system user)."""

    token: str
    """The token's id (the start of its hash, as `token list` shows it), never the token."""
    name: str
    role: str
    jurisdiction: str | None
    responder: str | None
    expires_at: float | None
    department: str | None = None
    """A department dispatcher's department (its sub-center)."""


@dataclass(frozen=True, kw_only=True)
class TokenRevoked(DomainEvent, type="token_revoked"):
    token: str
    name: str
    role: str
