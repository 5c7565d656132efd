"""Settings of the server's own workings: correlation, intake, sockets, HTTP, storage, audit key."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from dispatch.config.values import Seconds
from dispatch.shared.geo import Strict


class Correlation(Strict):
    radius_m: float = Field(300.0, gt=0, description="Alerts this close join one incident.")
    window: Seconds = Field(1800.0, description="...if the incident saw an alert this recently.")


class Intake(Strict):
    max_batch: int = Field(1000, ge=1, description="Most alerts in one POST.")
    max_body_bytes: int = Field(1 << 20, ge=1024, description="Largest accepted request body.")
    group_commit_max: int = Field(
        512, ge=1, description="Most commands committed in one database transaction."
    )
    max_future_skew: Seconds = Field(
        600.0,
        description=(
            "How far ahead of the server's clock a sender's time (observed_at, startsAt, CAP sent, "
            "a call's time) may lie before the alert is refused (422); none may be before 2000."
        ),
    )


class WebSocket(Strict):
    auth_timeout: Seconds = Field(5.0, description="A socket must authenticate this soon.")
    heartbeat: Seconds = Field(20.0, description="Ping interval; a peer silent for longer is dropped.")
    queue_size: int = Field(
        1000,
        ge=10,
        description=(
            "Frames waiting for a client whose socket stopped draining; more and it is closed and "
            "told to resume. A client that reads keeps up to 50 times this through a burst."
        ),
    )
    max_message_bytes: int = Field(65536, ge=1024, description="Largest frame a client may send.")
    allowed_origins: list[str] = Field(
        default_factory=list,
        description=(
            "Browser origins allowed besides the address a connection reached (IP and port; on "
            "loopback also localhost), e.g. the name people use, https://dispatch.city.local:8443."
        ),
    )


class Web(Strict):
    header_timeout: Seconds = Field(
        10.0,
        description=(
            "A connection must deliver a whole request head this soon after it opens or after its "
            "previous answer; else it is closed. Idle kept-alive connections close after it too."
        ),
    )
    body_timeout: Seconds = Field(
        30.0, description="A request body must arrive whole this soon after its head; else 408."
    )
    log_interval: Seconds = Field(
        60.0,
        description="Timed-out and abandoned requests are logged in one summary line at most this often.",
    )


class SqliteSynchronous(StrEnum):
    FULL = "full"
    NORMAL = "normal"


class Storage(Strict):
    sqlite_synchronous: SqliteSynchronous = Field(
        SqliteSynchronous.FULL,
        description=(
            "SQLite only. full: an acknowledged alert survives a power cut (one fsync per group "
            "commit); normal: it survives a crash or kill -9 of the server, not a power cut."
        ),
    )


class AuditSettings(Strict):
    """The event log's signing key (README: Audit log)."""

    key_file: str | None = Field(
        None,
        description=(
            "File holding the audit key (at least 32 characters, e.g. `openssl rand -hex 32`); "
            "made with mode 0600 if missing when the server starts. DISPATCH_AUDIT_KEY overrides "
            "it. Unset: SQLite keeps <database file>.audit-key; PostgreSQL refuses to start."
        ),
    )
