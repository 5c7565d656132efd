"""Broker accounts: who may read and write which MQTT topic, as Mosquitto ACL and password files."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
import tempfile
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from dispatch.config.model import Config
from gateways.mqtt_topics import Topics

# mosquitto_passwd's `$7$` format (Mosquitto 2.x): PBKDF2-HMAC-SHA512, these parameters, standard
# base64. The broker reads the iteration count from each line, but we write what its tool writes.
HASH_NAME = "sha512"
ITERATIONS = 101
SALT_BYTES = 12
HASH_BYTES = 64


class Access(StrEnum):
    """The rights of an ACL `topic` line."""

    READ = "read"
    WRITE = "write"
    READWRITE = "readwrite"


@dataclass(frozen=True)
class Grant:
    access: Access
    topic: str


@dataclass(frozen=True)
class Account:
    """One broker login and the topics it may use; all others are denied."""

    name: str
    grants: tuple[Grant, ...]


@dataclass(frozen=True)
class PasswordUpdate:
    """The password file's new hashes, and the passwords made this run (shown once, never stored)."""

    hashes: dict[str, str]
    new_passwords: dict[str, str]


def accounts(config: Config) -> list[Account]:
    """The server, Frigate, each responder, each sensor gateway and each department's duty desk,
    each confined to its own topics."""
    mqtt = config.mqtt
    topics = Topics(mqtt.prefix, mqtt.frigate_prefix)
    server_reads = [topics.sensor_alerts(), topics.acks(), topics.location(), *topics.frigate()]
    result = [
        Account(
            mqtt.username,
            (
                *(Grant(Access.READ, topic) for topic in server_reads),
                Grant(Access.WRITE, topics.tasks()),
                Grant(Access.WRITE, topics.department_tasks()),
            ),
        )
    ]
    frigate = topics.frigate_all()
    if frigate is not None:
        # Frigate publishes events, reviews, snapshots and states, and subscribes to its own
        # `…/set` command topics: all of them live under its prefix.
        result.append(Account(mqtt.frigate_username, (Grant(Access.READWRITE, frigate),)))
    for responder in config.responders:
        own = responder.id
        result.append(
            Account(
                responder.id,
                (
                    Grant(Access.READ, topics.tasks(own)),
                    Grant(Access.WRITE, topics.acks(own)),
                    Grant(Access.WRITE, topics.location(own)),
                ),
            )
        )
    for gateway in mqtt.sensor_gateways:
        result.append(Account(gateway, (Grant(Access.WRITE, topics.sensor_alerts(gateway)),)))
    for department in config.departments:
        # A department's duty desk (or the SMS/voice bridge it runs) reads its department tasks.
        result.append(
            Account(
                department_account(department.id),
                (Grant(Access.READ, topics.department_tasks(department.id)),),
            )
        )
    return result


def department_account(department_id: str) -> str:
    """The broker login of a department's duty desk (apart from responders' and gateways' ids)."""
    return f"department-{department_id}"


QUEUE_SETTINGS = (
    # Mosquitto's default (1000) silently drops, QoS 1 included, whatever the server's session
    # has not taken beyond 20 in flight and 1000 queued: a flood, or an outage of the server.
    "max_queued_messages 0",
    # Keep sessions and their queues across a broker restart (saved every autosave_interval).
    "persistence true",
    # Send each small message at once: with Nagle's algorithm a task or PUBACK may wait ~40 ms.
    "set_tcp_nodelay true",
)
"""mosquitto.conf lines without which the broker, not the server, would lose or delay alerts."""


def broker_settings(acl: Path, passwords: Path) -> list[str]:
    """The mosquitto.conf lines for the files written and for the server's session."""
    return ["allow_anonymous false", f"password_file {passwords}", f"acl_file {acl}", *QUEUE_SETTINGS]


def render_acl(accounts: Iterable[Account]) -> str:
    """A Mosquitto 2.x `acl_file`: a `user` block per account, nothing granted outside the blocks."""
    lines = ["# Written by `dispatch mqtt-acl` from config.yaml; edits here are overwritten."]
    for account in accounts:
        lines += ["", f"user {account.name}"]
        lines += [f"topic {grant.access} {grant.topic}" for grant in account.grants]
    return "\n".join(lines) + "\n"


def hash_password(password: str, salt: bytes | None = None) -> str:
    """The `$7$…` hash mosquitto_passwd writes; a fresh random salt unless one is given."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac(HASH_NAME, password.encode(), salt, ITERATIONS, HASH_BYTES)
    return f"$7${ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def parse_password_file(text: str) -> dict[str, str]:
    """Account → hash (whatever scheme the line uses: the broker checks it, we only carry it over)."""
    hashes: dict[str, str] = {}
    for line in text.splitlines():
        name, colon, hashed = line.strip().partition(":")
        if colon and name and hashed and not name.startswith("#"):
            hashes[name] = hashed
    return hashes


def render_password_file(hashes: Mapping[str, str]) -> str:
    return "".join(f"{name}:{hashed}\n" for name, hashed in hashes.items())


def update_passwords(
    names: Sequence[str], existing: Mapping[str, str], rotate: Collection[str] = ()
) -> PasswordUpdate:
    """Keep the hashes of known accounts, so a re-run does not lock out every device; make the rest.

    Accounts in `existing` but not in `names` are dropped: a removed device loses its login.
    """
    hashes: dict[str, str] = {}
    new_passwords: dict[str, str] = {}
    for name in names:
        if name in existing and name not in rotate:
            hashes[name] = existing[name]
            continue
        password = secrets.token_urlsafe()
        hashes[name] = hash_password(password)
        new_passwords[name] = password
    return PasswordUpdate(hashes, new_passwords)


def read_password_file(path: Path) -> dict[str, str]:
    """The hashes of `path`; none when it does not exist yet."""
    try:
        return parse_password_file(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def write_file(path: Path, text: str, mode: int) -> None:
    """Replace `path` at once, so a broker reloading meanwhile never reads half a file.

    The old file's owner is kept when we may set it (as root): the broker reads these files after
    dropping to its own user, and a root-owned 0600 file would lock it out.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(temporary, mode)
        with contextlib.suppress(FileNotFoundError):
            old = path.stat()
            with contextlib.suppress(PermissionError):
                os.chown(temporary, old.st_uid, old.st_gid)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
