"""`dispatch simulate` on the command line: bad arguments, tokens, and a server that is not there."""

from __future__ import annotations

import socket
from pathlib import Path

import orjson
import pytest

from dispatch.cli import main as cli
from dispatch.config.model import load_config
from dispatch.simulate.access import issue, tablet_units
from dispatch.simulate.command import parse_duration
from tests.conftest import ServerFactory

CONFIG = str(Path(__file__).parents[2] / "config.yaml")


def _simulate(*args: str) -> list[str]:
    return ["simulate", "--config", CONFIG, *args]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--rate", "fast"], "--rate"),
        (["--rate", "0"], "--rate"),
        (["--duration", "soon"], "--duration"),
        (["--duration", "0s"], "--duration"),
        (["--url", "localhost:8080"], "--url"),
        (["--scenario", "earthquake"], "--scenario"),
        (["--tablets", "many"], "--tablets"),
        (["--seed", "-3"], "--seed"),
        (["--mqtt", "tcp://broker"], "--mqtt"),
        (["--database", "sqlite:///nowhere/dispatch.db"], "--gateway-token"),
        (["--responder-tokens", "tokens.json"], "--responder-tokens"),
    ],
)
def test_simulate_bad_argument_is_one_clear_line_and_exit_2(
    args: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(_simulate(*args)) == 2

    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("dispatch simulate: ") and named in lines[0]


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90.0), ("90s", 90.0), ("10m", 600.0), ("1h", 3600.0), ("1h30m", 5400.0)]
)
def test_simulate_duration_reads_as_people_write_it(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_simulate_never_dies_on_a_server_that_is_not_there(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    args = ["--url", f"http://127.0.0.1:{port}", "--gateway-token", "dsp_unknown", "--tablets", "0"]

    code = cli.main(_simulate(*args, "--rate", "100", "--duration", "0.3s", "--seed", "5"))

    printed = capsys.readouterr().out
    assert code == 0
    assert f"cannot reach http://127.0.0.1:{port}" in printed
    assert printed.count("cannot reach") == 1  # the first of its kind only; the rest are counted
    *_, last, answers = printed.splitlines()
    assert last.startswith("沅江市 flood-day seed 5 · ") and "errors 0)" not in last
    assert answers == "沅江市 flood-day seed 5 · no HTTP answers"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_simulate_issues_its_own_tokens_in_the_servers_database(
    make_server: ServerFactory, database_url: str
) -> None:
    config = load_config(CONFIG)
    server = await make_server(config)
    units = tablet_units(config, 3)

    credentials = issue(config, database_url, units, desk=True)

    assert [unit.id for unit in units] == sorted(credentials.responders, key=[u.id for u in units].index)
    assert all(unit.id.startswith("grid-") for unit in units)  # street grid workers first
    alert = {
        "source": "waterlog-qionghu",
        "source_event_id": "1",
        "kind": "sensor",
        "category": "waterlogging",
        "location": {"lat": 28.838, "lon": 112.362},
    }
    response = await server.client.post(
        "/api/v1/alerts",
        data=orjson.dumps(alert),
        headers={"Authorization": f"Bearer {credentials.gateway}", "Content-Type": "application/json"},
    )
    assert response.status == 202, await response.text()
    assert credentials.desk is not None


def test_simulate_responder_tokens_must_name_units_of_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tokens = tmp_path / "tokens.json"
    tokens.write_bytes(orjson.dumps({"grid-qingyunshan-heping-1": "dsp_a", "grid-nowhere-1": "dsp_b"}))

    code = cli.main(_simulate("--gateway-token", "dsp_g", "--responder-tokens", str(tokens)))

    assert code == 2
    assert capsys.readouterr().err == (
        "dispatch simulate: --responder-tokens: no responder 'grid-nowhere-1' in the config\n"
    )
