"""Administrators' second factor: a 6-digit time-based code (RFC 6238) from an authenticator app.

An admin account can change everything, so its login needs the password and the code the
app shows now (as 等保 2.0 level 3 asks of privileged users). The secret is made by
`dispatch user add --role admin` or `dispatch user totp-reset` and shown that once, as an
otpauth:// URI (a QR code in most apps) and as text. A code is good for one login only.
"""

from __future__ import annotations

import hmac
import re

import pyotp
import sqlalchemy as sa

from dispatch.access.auth import Role
from dispatch.storage.tables import session_table, user_table

ISSUER = "dispatch"
STEP_SECONDS = 30
DRIFT_STEPS = 1
"""A code of the step before or after also counts: phones' clocks drift, people type slowly."""
_CODE = re.compile(r"^\d{6}$")


class SecondFactorError(ValueError):
    """A refused `user totp-reset`; the message says why."""


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, name: str) -> str:
    """What an authenticator app scans: otpauth://totp/dispatch:NAME?secret=…&issuer=dispatch."""
    return pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=ISSUER)


def code_at(secret: str, now: float) -> str:
    """The code an authenticator app shows at `now`."""
    return pyotp.TOTP(secret).generate_otp(int(now // STEP_SECONDS))


def matching_step(secret: str, code: str, now: float, after: int | None) -> int | None:
    """The time step `code` belongs to near `now`, if it is right and newer than step `after`."""
    if not _CODE.match(code):
        return None
    totp = pyotp.TOTP(secret)
    current = int(now // STEP_SECONDS)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if (after is None or step > after) and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def reset(engine: sa.Engine, name: str, *, now: float) -> str:
    """A new secret for an admin account (the old one stops working, its sessions end)."""
    secret = new_secret()
    with engine.begin() as connection:
        role = connection.execute(sa.select(user_table.c.role).where(user_table.c.name == name)).scalar()
        if role is None:
            raise SecondFactorError(f"no user {name!r}")
        if role != Role.ADMIN:
            raise SecondFactorError(f"{name!r} is a {role}: only admin accounts have a second factor")
        connection.execute(
            user_table.update()
            .where(user_table.c.name == name)
            .values(totp_secret=secret, totp_last_step=None, updated_at=now)
        )
        connection.execute(session_table.delete().where(session_table.c.user_name == name))
    return secret
