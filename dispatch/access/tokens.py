"""Token administration: what a token may still do (expiry, revocation), list and revoke.

A token is refused once it expires or is revoked. `dispatch token revoke` runs in another
process than the server: the server re-reads a token at most `web.security.CACHE_SECONDS`
after it last did, and closes the sockets a revoked or expired token opened just as soon
(dispatch/access/credentials.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from dispatch.access.auth import Principal, TokenError, hash_token, principal_of, token_id
from dispatch.events.catalog import TokenRevoked
from dispatch.storage import pending_events
from dispatch.storage.tables import token_table

EXPIRED = "token expired"
REVOKED = "token revoked"


@dataclass(frozen=True)
class TokenGrant:
    """A stored token as the server checks it on each use."""

    hash: str
    principal: Principal
    expires_at: float | None
    revoked_at: float | None

    def refusal(self, now: float) -> str | None:
        """Why it may no longer be used (REVOKED, EXPIRED); None while it may."""
        if self.revoked_at is not None:
            return REVOKED
        if self.expires_at is not None and self.expires_at <= now:
            return EXPIRED
        return None


def lookup_grant(connection: sa.Connection, token: str) -> TokenGrant | None:
    hashed = hash_token(token)
    row = connection.execute(sa.select(token_table).where(token_table.c.hash == hashed)).mappings().first()
    if row is None:
        return None
    return TokenGrant(hashed, principal_of(row), row["expires_at"], row["revoked_at"])


def record_use(connection: sa.Connection, used: dict[str, float]) -> None:
    """Store when each token (by hash) was last accepted."""
    if used:
        connection.execute(
            token_table.update()
            .where(token_table.c.hash == sa.bindparam("used_hash"))
            .values(last_used_at=sa.bindparam("used_at")),
            [{"used_hash": hashed, "used_at": at} for hashed, at in used.items()],
        )


def list_tokens(connection: sa.Connection) -> list[dict[str, object]]:
    """Every token, oldest first, without its secret (only its hash is stored anyway)."""
    rows = connection.execute(
        sa.select(
            token_table.c.hash,
            token_table.c.name,
            token_table.c.role,
            token_table.c.jurisdiction_id,
            token_table.c.responder_id,
            token_table.c.department_id,
            token_table.c.created_at,
            token_table.c.expires_at,
            token_table.c.last_used_at,
            token_table.c.revoked_at,
            token_table.c.sources,
            token_table.c.cap_senders,
        ).order_by(token_table.c.created_at, token_table.c.name)
    ).mappings()
    return [{"id": token_id(row["hash"]), **{k: v for k, v in row.items() if k != "hash"}} for row in rows]


def revoke_token(engine: sa.Engine, which: str, *, actor: str, now: float) -> dict[str, object]:
    """Revoke the token with this id (as `token list` shows it) or this name; returns its row.

    A name held by several tokens still in force is refused: revoking the wrong gateway's
    token would stop the wrong sensors.
    """
    with engine.begin() as connection:
        rows = (
            connection.execute(
                sa.select(token_table).where(
                    sa.or_(token_table.c.hash.startswith(which, autoescape=True), token_table.c.name == which)
                )
            )
            .mappings()
            .all()
        )
        by_id = [row for row in rows if len(which) >= 6 and row["hash"].startswith(which)]
        candidates = by_id or [row for row in rows if row["name"] == which]
        if not candidates:
            raise TokenError(f"no token with id or name {which!r} (dispatch token list shows them)")
        in_force = [row for row in candidates if row["revoked_at"] is None]
        if not in_force:
            raise TokenError(f"token {which!r} is revoked already")
        if len(in_force) > 1:
            ids = ", ".join(token_id(row["hash"]) for row in in_force)
            raise TokenError(f"{len(in_force)} tokens are named {which!r}: revoke one by its id ({ids})")
        [row] = in_force
        connection.execute(
            token_table.update().where(token_table.c.hash == row["hash"]).values(revoked_at=now)
        )
        pending_events.leave(
            connection,
            TokenRevoked(
                occurred_at=now, actor=actor, token=token_id(row["hash"]), name=row["name"], role=row["role"]
            ),
        )
    return {"id": token_id(row["hash"]), "name": row["name"], "role": row["role"]}
