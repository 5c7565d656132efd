"""`dispatch mqtt-acl`: the rendered files, password keeping, and a real Mosquitto enforcing them."""

from __future__ import annotations

import asyncio
import base64
import getpass
import stat
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
import yaml

from dispatch.cli.main import main
from dispatch.config.model import ConfigError
from gateways.mqtt_acl import (
    accounts,
    hash_password,
    parse_password_file,
    render_acl,
    render_password_file,
    update_passwords,
)
from tests.brokers import private_broker
from tests.factories import config_data, make_config, responder

MOSQUITTO_PASSWD = "/usr/bin/mosquitto_passwd"
RECEIVE_TIMEOUT_S = 5.0

NAMES = ["dispatch", "frigate", "u1", "u2", "g1", "g2", "department-flood", "department-urban"]


def _data(**mqtt: Any) -> dict[str, Any]:
    """The factory config cut down to two responders and two sensor gateways."""
    return config_data(
        responders=[responder("u1", "west-n", 28.16, 112.1), responder("u2", "east-n", 28.15, 112.3)],
        mqtt={"sensor_gateways": ["g1", "g2"], **mqtt},
    )


def _config_file(path: Path, **mqtt: Any) -> Path:
    path.write_text(yaml.safe_dump(_data(**mqtt), allow_unicode=True))
    return path


def _run(capsys: pytest.CaptureFixture[str], config: Path, folder: Path, *extra: str) -> dict[str, str]:
    """Run the command; the passwords it printed, by account."""
    argv = ["mqtt-acl", "--config", str(config), "--acl", str(folder / "acl")]
    assert main([*argv, "--passwords", str(folder / "passwords"), *extra]) == 0
    lines = capsys.readouterr().out.splitlines()
    return dict(line.split(" ", 1) for line in lines)


# --- rendering --------------------------------------------------------------------------------


async def test_mqtt_acl_render_confines_each_account() -> None:
    config = make_config(**_data(prefix="city/dispatch", frigate_prefix="nvr"))

    text = render_acl(accounts(config))

    assert text.split("\n\n")[1:] == [
        "user dispatch\n"
        "topic read city/dispatch/sensors/+/alerts\n"
        "topic read city/dispatch/responders/+/acks\n"
        "topic read city/dispatch/responders/+/location\n"
        "topic read nvr/events\n"
        "topic read nvr/reviews\n"
        "topic write city/dispatch/responders/+/tasks\n"
        "topic write city/dispatch/departments/+/tasks",
        "user frigate\ntopic readwrite nvr/#",
        "user u1\n"
        "topic read city/dispatch/responders/u1/tasks\n"
        "topic write city/dispatch/responders/u1/acks\n"
        "topic write city/dispatch/responders/u1/location",
        "user u2\n"
        "topic read city/dispatch/responders/u2/tasks\n"
        "topic write city/dispatch/responders/u2/acks\n"
        "topic write city/dispatch/responders/u2/location",
        "user g1\ntopic write city/dispatch/sensors/g1/alerts",
        "user g2\ntopic write city/dispatch/sensors/g2/alerts",
        "user department-flood\ntopic read city/dispatch/departments/flood/tasks",
        "user department-urban\ntopic read city/dispatch/departments/urban/tasks\n",
    ]
    assert text.startswith("#")


async def test_mqtt_acl_accounts_leave_frigate_out_when_it_is_off() -> None:
    config = make_config(**_data(frigate_prefix=None))

    made = accounts(config)

    assert [account.name for account in made] == [
        "dispatch",
        "u1",
        "u2",
        "g1",
        "g2",
        "department-flood",
        "department-urban",
    ]
    assert not [grant for grant in made[0].grants if grant.topic.startswith("frigate/")]


@pytest.mark.parametrize(
    ("prefix", "frigate_prefix"),
    [("dispatch", "dispatch"), ("site/dispatch", "site"), ("dispatch", "dispatch/frigate")],
    ids=["same", "frigate-above", "frigate-below"],
)
async def test_mqtt_acl_config_refuses_frigate_prefix_overlapping_ours(
    prefix: str, frigate_prefix: str
) -> None:
    with pytest.raises(ConfigError, match=r"mqtt\.frigate_prefix"):
        make_config(**_data(prefix=prefix, frigate_prefix=frigate_prefix))


# --- passwords ---------------------------------------------------------------------------------


async def test_mqtt_acl_hash_password_matches_mosquitto_passwd(tmp_path: Path) -> None:
    path = tmp_path / "passwords"
    process = await asyncio.create_subprocess_exec(
        MOSQUITTO_PASSWD, "-c", "-b", str(path), "u1", "correct horse"
    )
    assert await process.wait() == 0
    theirs = parse_password_file(path.read_text())["u1"]
    salt = theirs.split("$")[3]

    ours = hash_password("correct horse", base64.b64decode(salt))

    assert ours == theirs
    assert theirs.startswith("$7$101$")


async def test_mqtt_acl_hash_password_salts_each_hash() -> None:
    first, second = hash_password("same"), hash_password("same")

    assert first != second
    assert [len(part) for part in first.split("$")] == [0, 1, 3, 16, 88]


async def test_mqtt_acl_parse_password_file_reads_what_it_renders() -> None:
    hashes = {"u1": hash_password("a"), "g1": "$6$legacy==$kept"}
    text = "# a note\n\n" + render_password_file(hashes) + "   \nno-colon\n"

    assert parse_password_file(text) == hashes


async def test_mqtt_acl_update_passwords_keeps_known_makes_missing_drops_removed() -> None:
    existing = {"u1": "$7$101$old-u1", "gone": "$7$101$old-gone"}

    update = update_passwords(["u1", "u2"], existing)

    assert update.hashes["u1"] == "$7$101$old-u1"
    assert list(update.hashes) == ["u1", "u2"]
    assert list(update.new_passwords) == ["u2"]
    salt = base64.b64decode(update.hashes["u2"].split("$")[3])
    assert hash_password(update.new_passwords["u2"], salt) == update.hashes["u2"]


async def test_mqtt_acl_update_passwords_rotates_the_named_accounts() -> None:
    existing = {"u1": "$7$101$old-u1", "u2": "$7$101$old-u2"}

    update = update_passwords(["u1", "u2"], existing, rotate=["u2"])

    assert list(update.new_passwords) == ["u2"]
    assert update.hashes["u1"] == "$7$101$old-u1"
    assert update.hashes["u2"] != "$7$101$old-u2"


# --- the command -------------------------------------------------------------------------------


async def test_mqtt_acl_command_prints_only_new_passwords_and_keeps_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config_file(tmp_path / "config.yaml")
    folder = tmp_path / "deep" / "mqtt"

    first = _run(capsys, config, folder)
    hashes = (folder / "passwords").read_text()
    again = _run(capsys, config, folder)
    rotated = _run(capsys, config, folder, "--rotate", "u1", "--rotate", "g2")

    assert list(first) == NAMES
    assert stat.S_IMODE((folder / "passwords").stat().st_mode) == 0o600
    assert (folder / "acl").read_text() == render_acl(accounts(make_config(**_data())))
    assert again == {}
    assert list(rotated) == ["u1", "g2"]
    after = parse_password_file((folder / "passwords").read_text())
    before = parse_password_file(hashes)
    assert {name for name in NAMES if after[name] != before[name]} == {"u1", "g2"}


async def test_mqtt_acl_command_drops_accounts_gone_from_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "mqtt"
    _run(capsys, _config_file(tmp_path / "config.yaml"), folder)
    smaller = _config_file(tmp_path / "smaller.yaml", sensor_gateways=["g1"], frigate_prefix=None)

    printed = _run(capsys, smaller, folder)

    assert printed == {}
    assert list(parse_password_file((folder / "passwords").read_text())) == [
        "dispatch",
        "u1",
        "u2",
        "g1",
        "department-flood",
        "department-urban",
    ]


async def test_mqtt_acl_command_tells_where_and_how_to_configure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["mqtt-acl", "--config", str(_config_file(tmp_path / "config.yaml"))]
    argv += ["--acl", str(tmp_path / "a"), "--passwords", str(tmp_path / "p")]

    assert main(argv) == 0

    err = capsys.readouterr().err
    told = ["allow_anonymous false", f"password_file {tmp_path / 'p'}", f"acl_file {tmp_path / 'a'}"]
    for line in [*told, "max_queued_messages 0", "persistence true", "set_tcp_nodelay true"]:
        assert f"  {line}\n" in f"{err}\n"


@pytest.mark.parametrize(
    ("config", "extra", "complaint"),
    [
        ("config.yaml", ("--rotate", "nobody"), "'nobody'"),
        ("missing.yaml", (), "missing.yaml"),
    ],
    ids=["unknown-rotate", "config-error"],
)
async def test_mqtt_acl_command_refuses_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], config: str, extra: tuple[str, ...], complaint: str
) -> None:
    _config_file(tmp_path / "config.yaml")
    argv = ["mqtt-acl", "--config", str(tmp_path / config), "--acl", str(tmp_path / "mqtt" / "acl")]

    code = main([*argv, "--passwords", str(tmp_path / "mqtt" / "passwords"), *extra])

    assert code == 2
    output = capsys.readouterr()
    assert output.out == ""
    assert complaint in output.err
    assert len(output.err.splitlines()) == 1
    assert not (tmp_path / "mqtt").exists()


# --- a real broker enforcing the files --------------------------------------------------------


@dataclass
class Broker:
    """A Mosquitto of this test, loaded with the command's files."""

    port: int
    prefix: str
    passwords: dict[str, str]

    def client(self, name: str, password: str | None = None) -> aiomqtt.Client:
        password = self.passwords[name] if password is None else password
        return aiomqtt.Client("127.0.0.1", self.port, username=name, password=password)


@pytest.fixture
async def broker(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> AsyncIterator[Broker]:
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    folder = tmp_path / "mqtt"
    passwords = _run(capsys, _config_file(tmp_path / "config.yaml", prefix=prefix), folder)
    # Started as root, Mosquitto drops to its own user and could not read our 0600 files.
    settings = f"password_file {folder / 'passwords'}\nacl_file {folder / 'acl'}\nuser {getpass.getuser()}\n"
    async with private_broker(tmp_path, settings, anonymous=False) as running:
        yield Broker(running.port, prefix, passwords)


async def _received_until(client: aiomqtt.Client, marker: bytes) -> list[tuple[str, Any]]:
    """Messages up to and including `marker`: what the broker let through before it, in order."""
    seen: list[tuple[str, Any]] = []
    async with asyncio.timeout(RECEIVE_TIMEOUT_S):
        async for message in client.messages:
            seen.append((message.topic.value, message.payload))
            if message.payload == marker:
                return seen
    raise AssertionError(f"the subscription ended before {marker!r}: {seen}")


@pytest.mark.slow
async def test_mqtt_acl_broker_delivers_tasks_only_to_their_responder(broker: Broker) -> None:
    tasks = f"{broker.prefix}/responders/{{}}/tasks"
    async with broker.client("dispatch") as server, broker.client("u1") as u1:
        # The most u1 could ask for: every unit's tasks, and u2's by name.
        await u1.subscribe(tasks.format("+"), qos=1)
        await u1.subscribe(tasks.format("u2"), qos=1)

        await server.publish(tasks.format("u2"), b"for u2", qos=1)
        await server.publish(tasks.format("u1"), b"for u1", qos=1)
        seen = await _received_until(u1, b"for u1")

    assert seen == [(tasks.format("u1"), b"for u1")]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("account", "forbidden", "allowed"),
    [
        ("u1", "responders/u2/acks", "responders/u1/acks"),
        ("u1", "responders/u2/location", "responders/u1/location"),
        ("u1", "sensors/g1/alerts", "responders/u1/acks"),
        ("g1", "sensors/g2/alerts", "sensors/g1/alerts"),
        ("g1", "responders/u1/acks", "sensors/g1/alerts"),
        ("g1", "/frigate/events", "sensors/g1/alerts"),
        ("frigate", "sensors/g1/alerts", "/frigate/events"),
    ],
    ids=[
        "responder-as-other-ack",
        "responder-as-other-location",
        "responder-as-gateway",
        "gateway-as-other",
        "gateway-as-responder",
        "gateway-as-frigate",
        "frigate-as-gateway",
    ],
)
async def test_mqtt_acl_broker_passes_to_the_server_only_own_topics(
    broker: Broker, account: str, forbidden: str, allowed: str
) -> None:
    def topic(suffix: str) -> str:
        # A leading slash names a topic outside our prefix.
        return suffix[1:] if suffix.startswith("/") else f"{broker.prefix}/{suffix}"

    async with broker.client("dispatch") as server, broker.client(account) as sender:
        for pattern in ["sensors/+/alerts", "responders/+/acks", "responders/+/location", "/frigate/events"]:
            await server.subscribe(topic(pattern), qos=1)

        # Mosquitto keeps one client's messages in order: once the allowed one is in, the
        # forbidden one, sent first, would have been too.
        await sender.publish(topic(forbidden), b"forged", qos=1)
        await sender.publish(topic(allowed), b"own", qos=1)
        seen = await _received_until(server, b"own")

    assert seen == [(topic(allowed), b"own")]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("account", "password"),
    [("u1", "wrong"), ("u1", None), ("nobody", "wrong")],
    ids=["wrong-password", "other-units-password", "unknown-account"],
)
async def test_mqtt_acl_broker_refuses_bad_login(broker: Broker, account: str, password: str | None) -> None:
    password = broker.passwords["u2"] if password is None else password

    with pytest.raises(aiomqtt.MqttCodeError):
        async with broker.client(account, password):
            pass
