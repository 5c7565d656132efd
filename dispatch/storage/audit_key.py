"""The audit key: the secret the event log's chain is signed with, kept outside the database.

Where it comes from, first match wins: the environment variable `DISPATCH_AUDIT_KEY`, the
file `audit.key_file` of config.yaml, and, for an embedded SQLite database only, the file
`<database file>.audit-key` next to it, made (mode 0600) on the first start that needs it.
PostgreSQL has no such default: a server whose database lives elsewhere must be given a key
explicitly, or anyone who can reach the database could sign the log.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from dispatch.storage.database import normalize_url

logger = logging.getLogger(__name__)

ENVIRONMENT = "DISPATCH_AUDIT_KEY"
MIN_LENGTH = 32
DEFAULT_SUFFIX = ".audit-key"


class AuditKeyError(Exception):
    """No usable audit key; the message says where one is looked for."""


@dataclass(frozen=True)
class AuditKey:
    secret: bytes
    origin: str
    """Where it came from, for messages: never the key itself."""

    @property
    def fingerprint(self) -> str:
        """Names the key in messages without revealing it."""
        return hashlib.sha256(b"dispatch audit key id\x00" + self.secret).hexdigest()[:12]


def default_key_file(database_url: str) -> Path | None:
    """`<database file>.audit-key` for a SQLite file; None for any other database."""
    url = sa.engine.make_url(normalize_url(database_url))
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database + DEFAULT_SUFFIX)


def load_key(key_file: str | None, database_url: str, environment: str | None, *, create: bool) -> AuditKey:
    """The audit key; `create`: make the key file if it is missing (the server's first start)."""
    if environment:
        return _checked(environment.strip().encode(), f"the environment ({ENVIRONMENT})")
    if key_file:
        return _read(Path(key_file), create=create, what="audit.key_file")
    path = default_key_file(database_url)
    if path is None:
        raise AuditKeyError(
            f"no audit key: a PostgreSQL database needs one outside it; set {ENVIRONMENT} or "
            "audit.key_file in config.yaml (a file with at least 32 characters, e.g. the output of "
            "`openssl rand -hex 32`)"
        )
    return _read(path, create=create, what="the key file next to the SQLite database")


def _read(path: Path, *, create: bool, what: str) -> AuditKey:
    if not path.exists():
        if not create:
            raise AuditKeyError(
                f"no audit key: {what} {path} does not exist (the server makes it on its first start; "
                f"or set {ENVIRONMENT})"
            )
        _make(path)
    try:
        secret = path.read_bytes().strip()
    except OSError as err:
        raise AuditKeyError(f"cannot read the audit key {path}: {err.strerror}") from err
    return _checked(secret, str(path))


def _make(path: Path) -> None:
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process made it first: use theirs
    except OSError as err:
        raise AuditKeyError(f"cannot create the audit key {path}: {err.strerror}") from err
    with os.fdopen(descriptor, "w") as file:
        file.write(secrets.token_hex(32) + "\n")
    logger.warning(
        "made a new audit key %s (mode 0600): it signs the event log; keep a copy apart from the "
        "database, without it `dispatch audit verify` cannot check the log",
        path,
    )


def _checked(secret: bytes, origin: str) -> AuditKey:
    if len(secret) < MIN_LENGTH:
        raise AuditKeyError(
            f"the audit key from {origin} is too short ({len(secret)} characters; at least {MIN_LENGTH})"
        )
    return AuditKey(secret, origin)
