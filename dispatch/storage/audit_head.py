"""Signed heads of the event log: a line an operator keeps elsewhere, to prove the log reached it.

`dispatch audit head` prints the log's newest sequence number and hash with the time, signed
(HMAC-SHA256) with the audit key. Stored away from the database (daily, say), it lets
`dispatch audit verify --head` tell a log cut below it or rewritten up to it, which the log
alone cannot: whoever can write the database can drop its newest rows and `chain_head` together.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from pathlib import Path

import orjson
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dispatch.storage.ledger import Problem, read_head
from dispatch.storage.tables import event_table

VERSION = "dispatch-audit-head/1"


class HeadError(ValueError):
    """The text given is not a signed head."""


class SignedHead(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    v: str = Field(description=f"Always {VERSION}.")
    seq: int = Field(ge=0, description="The log's newest row when the head was taken.")
    hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="That row's hash.")
    at: str = Field(max_length=40, description="When the head was taken (RFC 3339, UTC).")
    mac: str = Field(pattern=r"^[0-9a-f]{64}$", description="HMAC-SHA256 of the above under the audit key.")

    def text(self) -> str:
        return orjson.dumps(self.model_dump()).decode()


def _mac(key: bytes, seq: int, chain_hash: str, at: str) -> str:
    return hmac.new(key, f"{VERSION}\n{seq}\n{chain_hash}\n{at}".encode(), hashlib.sha256).hexdigest()


def take_head(connection: sa.Connection, key: bytes, now: float) -> SignedHead:
    head = read_head(connection)
    at = datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return SignedHead(v=VERSION, seq=head.seq, hash=head.hash, at=at, mac=_mac(key, head.seq, head.hash, at))


def read_signed_head(file_or_text: str) -> SignedHead:
    """A head from a file (its last non-empty line, so heads can be appended to one file) or text."""
    text = file_or_text.strip()
    if not text.startswith("{"):
        try:
            lines = [line for line in Path(file_or_text).read_text().splitlines() if line.strip()]
        except OSError as err:
            raise HeadError(f"--head: neither a signed head nor a readable file ({err.strerror})") from err
        if not lines:
            raise HeadError(f"--head: {file_or_text} is empty")
        text = lines[-1].strip()
    try:
        head = SignedHead.model_validate_json(text)
    except ValidationError as err:
        raise HeadError(f"--head: not a signed head ({err.errors()[0]['msg']})") from err
    if head.v != VERSION:
        raise HeadError(f"--head: unknown version {head.v!r} (expected {VERSION})")
    return head


def check_head(connection: sa.Connection, key: bytes, head: SignedHead) -> Problem | None:
    """Whether the log still reaches `head`: signed with this key, its row there and the same."""
    if not hmac.compare_digest(_mac(key, head.seq, head.hash, head.at), head.mac):
        return Problem(
            None,
            "the exported head's signature does not match this audit key "
            "(the head was altered, or signed with another key)",
        )
    if head.seq == 0:
        return None
    row = connection.execute(sa.select(event_table.c.hash).where(event_table.c.seq == head.seq)).first()
    if row is None:
        last = read_head(connection).seq
        return Problem(
            head.seq,
            f"the log was cut below the exported head of {head.at}: "
            f"it ends at row {last}, the head says {head.seq}",
        )
    if row.hash != head.hash:
        return Problem(
            head.seq,
            f"row {head.seq} is not the row of the exported head of {head.at}: the log was rewritten",
        )
    return None
