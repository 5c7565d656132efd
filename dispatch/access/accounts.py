"""People's accounts: argon2-hashed passwords, browser sessions, and logins slowed after failures.

Machines (gateways, native tablet clients) keep using bearer tokens (dispatch/access/auth.py); a
person logs in at the login page and gets a session. Every login, logout and refused login
is an event in the hash-chained log, written by the single writer like every other change.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from dispatch.access import second_factor
from dispatch.access.auth import Principal, Role
from dispatch.access.scoping import account_scope_problem
from dispatch.config.model import Config
from dispatch.events.catalog import UserLoggedIn, UserLoggedOut, UserLoginFailed
from dispatch.storage.tables import session_table, user_table
from dispatch.storage.writer import Tx

logger = logging.getLogger(__name__)

PEOPLE_ROLES = (Role.DISPATCHER, Role.RESPONDER, Role.ADMIN, Role.SCREEN)
"""Roles a person may log in with; gateways are machines and use tokens."""
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
"""argon2 hashes any length; a megabyte password would only cost us CPU."""
_NAME = re.compile(r"^[^\s\x00-\x1f\x7f]{1,64}$")

_hasher = PasswordHasher()
# Verified against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """A refused account command; the message names the option."""


@dataclass(frozen=True)
class Session:
    """A browser's login, as the server holds it for the requests that carry its cookie."""

    principal: Principal
    csrf_token: str
    expires_at: float


@dataclass(frozen=True)
class LoginOutcome:
    session_id: str | None
    """The cookie's value, shown to the browser this once; None: refused."""
    session: Session | None
    refusal: str | None = None
    """wrong_credentials (whatever was wrong: name, password, disabled), throttled; for an admin
    whose password was right: totp_required, wrong_totp or totp_not_enrolled."""
    retry_after: float | None = None


def hash_session_id(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def hash_password(password: str) -> str:
    _check_password(password)
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Slow on purpose (argon2id): call it off the event loop."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password[:MAX_PASSWORD]) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password may have at most {MAX_PASSWORD} characters")


# Administration (the `dispatch user` commands) --------------------------------------------------


def add_user(
    engine: sa.Engine,
    config: Config,
    *,
    name: str,
    role: str,
    password: str,
    jurisdiction: str | None = None,
    responder: str | None = None,
    department: str | None = None,
    now: float,
) -> str | None:
    """Add the account; for an admin, returns its second factor's secret (shown this once)."""
    if not _NAME.match(name):
        raise AccountError("NAME: 1 to 64 characters, no spaces or control characters")
    try:
        parsed = Role(role)
    except ValueError:
        parsed = None
    if parsed not in PEOPLE_ROLES:
        raise AccountError(f"--role must be one of {', '.join(PEOPLE_ROLES)}")
    assert parsed is not None
    if (problem := account_scope_problem(config, parsed, jurisdiction, responder, department)) is not None:
        raise AccountError(problem)
    hashed = hash_password(password)
    totp_secret = second_factor.new_secret() if parsed == Role.ADMIN else None
    with engine.begin() as connection:
        if connection.execute(sa.select(user_table.c.name).where(user_table.c.name == name)).first():
            raise AccountError(f"user {name!r} exists already (dispatch user passwd to change its password)")
        connection.execute(
            user_table.insert().values(
                name=name,
                role=parsed.value,
                jurisdiction_id=jurisdiction,
                responder_id=responder,
                department_id=department,
                password_hash=hashed,
                disabled=False,
                failed_logins=0,
                locked_until=None,
                totp_secret=totp_secret,
                created_at=now,
                updated_at=now,
            )
        )
    return totp_secret


def set_password(engine: sa.Engine, name: str, password: str, *, now: float) -> None:
    """A new password: the account is unlocked, enabled again, and its sessions end."""
    hashed = hash_password(password)
    with engine.begin() as connection:
        changed = connection.execute(
            user_table.update()
            .where(user_table.c.name == name)
            .values(password_hash=hashed, failed_logins=0, locked_until=None, disabled=False, updated_at=now)
        ).rowcount
        if not changed:
            raise AccountError(f"no user {name!r}")
        connection.execute(session_table.delete().where(session_table.c.user_name == name))


def disable_user(engine: sa.Engine, name: str, *, now: float) -> int:
    """The account can no longer log in; returns how many of its sessions were ended."""
    with engine.begin() as connection:
        changed = connection.execute(
            user_table.update().where(user_table.c.name == name).values(disabled=True, updated_at=now)
        ).rowcount
        if not changed:
            raise AccountError(f"no user {name!r}")
        ended: int = connection.execute(
            session_table.delete().where(session_table.c.user_name == name)
        ).rowcount
    return ended


def list_users(engine: sa.Engine) -> list[dict[str, object]]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(
                user_table.c.name,
                user_table.c.role,
                user_table.c.jurisdiction_id,
                user_table.c.responder_id,
                user_table.c.department_id,
                user_table.c.disabled,
            ).order_by(user_table.c.name)
        ).mappings()
        return [dict(row) for row in rows]


# Logins (the server) --------------------------------------------------------------------------


def _principal(user: sa.RowMapping) -> Principal:
    return Principal(
        Role(user["role"]),
        user["name"],
        user["jurisdiction_id"],
        user["responder_id"],
        department_id=user["department_id"],
    )


def read_user(connection: sa.Connection, name: str) -> sa.RowMapping | None:
    return connection.execute(sa.select(user_table).where(user_table.c.name == name)).mappings().first()


def lookup_session(connection: sa.Connection, session_id: str, now: float) -> Session | None:
    """The session the cookie names, while it lasts and its account is enabled."""
    row = (
        connection.execute(
            sa.select(
                session_table.c.csrf_token,
                session_table.c.expires_at,
                user_table.c.name,
                user_table.c.role,
                user_table.c.jurisdiction_id,
                user_table.c.responder_id,
                user_table.c.department_id,
                user_table.c.disabled,
            )
            .join(user_table, user_table.c.name == session_table.c.user_name)
            .where(session_table.c.id_hash == hash_session_id(session_id))
        )
        .mappings()
        .first()
    )
    if row is None or row["expires_at"] <= now or row["disabled"]:
        return None
    return Session(_principal(row), row["csrf_token"], row["expires_at"])


class LoginDesk:
    """Decides logins inside the writer's transaction: the failure count and the log move together."""

    def __init__(self, config: Config) -> None:
        self.config = config

    def throttled_until(self, user: sa.RowMapping | None, now: float) -> float | None:
        if user is None or user["locked_until"] is None or user["locked_until"] <= now:
            return None
        until: float = user["locked_until"]
        return until

    def record_throttled(self, tx: Tx, name: str, remote: str | None) -> float | None:
        """An attempt while the account waits: refused unchecked, and logged."""
        user = read_user(tx.connection, name)
        until = self.throttled_until(user, tx.now)
        assert user is not None and until is not None
        tx.record(
            UserLoginFailed(
                occurred_at=tx.now,
                actor=f"{user['role']}:{user['name']}",
                user=user["name"],
                reason="throttled",
                failures=user["failed_logins"],
                locked_until=until,
                remote=remote,
            )
        )
        return until

    def record_attempt(
        self,
        tx: Tx,
        name: str,
        password_ok: bool,
        remote: str | None,
        new_hash: str | None = None,
        totp: str | None = None,
    ) -> LoginOutcome:
        """After the password was checked (off the loop): open a session or count the failure.

        An admin also needs the current code of its second factor. A missing code is asked for
        (not counted: the page shows the code field); a wrong one counts like a wrong password.
        """
        user = read_user(tx.connection, name)
        shown_name = name[:64]
        if user is None:
            tx.record(
                UserLoginFailed(
                    occurred_at=tx.now,
                    actor="anonymous",
                    user=shown_name,
                    reason="unknown_user",
                    failures=0,
                    locked_until=None,
                    remote=remote,
                )
            )
            return LoginOutcome(None, None, "wrong_credentials")
        until = self.throttled_until(user, tx.now)
        if until is not None:  # locked by a parallel attempt meanwhile
            self.record_throttled(tx, name, remote)
            return LoginOutcome(None, None, "throttled", until - tx.now)
        if user["disabled"]:
            return self._refuse(tx, user, "disabled", remote)
        if not password_ok:
            return self._refuse(tx, user, "wrong_password", remote)
        values: dict[str, object] = {"failed_logins": 0, "locked_until": None, "updated_at": tx.now}
        if user["role"] == Role.ADMIN:
            if user["totp_secret"] is None:
                return self._refuse(tx, user, "totp_not_enrolled", remote, counted=False)
            if not totp:
                return self._refuse(tx, user, "totp_required", remote, counted=False)
            step = second_factor.matching_step(user["totp_secret"], totp, tx.now, user["totp_last_step"])
            if step is None:
                return self._refuse(tx, user, "wrong_totp", remote)
            values["totp_last_step"] = step
        if new_hash is not None:
            values["password_hash"] = new_hash
        return self._open_session(tx, user, values, remote)

    def _refuse(
        self, tx: Tx, user: sa.RowMapping, reason: str, remote: str | None, *, counted: bool = True
    ) -> LoginOutcome:
        """A refused login, logged; a counted one (wrong password or code) may slow the account down."""
        failures = user["failed_logins"] + (1 if counted and reason != "disabled" else 0)
        locked = self._lock_for(failures) if counted else 0.0
        locked_until = tx.now + locked if locked else user["locked_until"]
        if counted:
            tx.connection.execute(
                user_table.update()
                .where(user_table.c.name == user["name"])
                .values(failed_logins=failures, locked_until=locked_until, updated_at=tx.now)
            )
        tx.record(
            UserLoginFailed(
                occurred_at=tx.now,
                actor=f"{user['role']}:{user['name']}",
                user=user["name"],
                reason=reason,
                failures=failures,
                locked_until=locked_until,
                remote=remote,
            )
        )
        if counted and locked:
            logger.warning(
                "login of %r slowed down: %d wrong passwords or codes in a row, next checked in %.0f s",
                user["name"],
                failures,
                locked,
            )
        shown = (
            reason if reason in ("totp_required", "wrong_totp", "totp_not_enrolled") else "wrong_credentials"
        )
        return LoginOutcome(None, None, shown)

    def _open_session(
        self, tx: Tx, user: sa.RowMapping, values: dict[str, object], remote: str | None
    ) -> LoginOutcome:
        principal = _principal(user)
        ttl = self.config.sessions.screen_ttl if principal.role == Role.SCREEN else self.config.sessions.ttl
        session_id = secrets.token_urlsafe(32)
        session = Session(principal, secrets.token_urlsafe(32), tx.now + ttl)
        tx.connection.execute(session_table.delete().where(session_table.c.expires_at <= tx.now))
        tx.connection.execute(
            session_table.insert().values(
                id_hash=hash_session_id(session_id),
                user_name=user["name"],
                csrf_token=session.csrf_token,
                created_at=tx.now,
                expires_at=session.expires_at,
            )
        )
        tx.connection.execute(user_table.update().where(user_table.c.name == user["name"]).values(**values))
        tx.record(
            UserLoggedIn(
                occurred_at=tx.now, actor=principal.actor, user=user["name"], role=user["role"], remote=remote
            )
        )
        return LoginOutcome(session_id, session)

    def _lock_for(self, failures: int) -> float:
        """Seconds the account waits after `failures` wrong passwords in a row (0: none)."""
        settings = self.config.sessions
        beyond = failures - settings.max_failed_logins
        if beyond < 0:
            return 0.0
        return float(min(settings.lockout_max, settings.lockout * 2 ** min(beyond, 20)))

    def record_logout(self, tx: Tx, session_id: str, principal: Principal, remote: str | None) -> bool:
        ended = tx.connection.execute(
            session_table.delete().where(session_table.c.id_hash == hash_session_id(session_id))
        ).rowcount
        if ended:
            tx.record(
                UserLoggedOut(
                    occurred_at=tx.now,
                    actor=principal.actor,
                    user=principal.name,
                    role=principal.role.value,
                    remote=remote,
                )
            )
        return bool(ended)


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


def rehash(password: str) -> str:
    return _hasher.hash(password)
