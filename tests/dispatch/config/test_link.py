"""Config of the links to other servers: upstream, downstream, departments' webhooks."""

from __future__ import annotations

from typing import Any

import pytest

from dispatch.config.link import link_tokens
from dispatch.config.model import ConfigError, parse_config
from tests.factories import config_data

UPSTREAM = {"url": "http://127.0.0.1:8081", "token_env": "DISPATCH_UPSTREAM_TOKEN"}
NO_PREFECTURE = {
    "prefecture": None,
    "policies": {
        name: {**policy, "notify_prefecture": False} for name, policy in config_data()["policies"].items()
    },
}


def _refusal(**overrides: Any) -> str:
    with pytest.raises(ConfigError) as raised:
        parse_config(config_data(**overrides), "test config")
    return str(raised.value)


def test_link_config_reads_upstream_with_defaults() -> None:
    config = parse_config(config_data(upstream=UPSTREAM), "test config")

    assert config.upstream is not None
    assert (config.upstream.send_severity, config.upstream.retry.first, config.upstream.retry.max) == (
        2,
        1.0,
        60.0,
    )
    assert config.upstream.sender is None


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"upstream": UPSTREAM, **NO_PREFECTURE}, "upstream: is set but no `prefecture`"),
        ({"upstream": {**UPSTREAM, "token_env": "secret-token"}}, "not an environment variable name"),
        ({"upstream": {**UPSTREAM, "url": "ftp://x"}}, "is not an http(s) URL"),
        ({"upstream": {**UPSTREAM, "token": "in the file"}}, "token"),
        ({"upstream": {**UPSTREAM, "retry": {"first": "1m", "max": "1s"}}}, "shorter than first"),
        ({"downstream": [{"county": "nowhere", "url": "http://x"}]}, "downstream.0.county: unknown"),
    ],
)
def test_link_config_refuses_what_cannot_work(overrides: dict[str, Any], named: str) -> None:
    assert named in _refusal(**overrides)


def test_link_tokens_come_from_the_environment_variables_named() -> None:
    config = parse_config(
        config_data(
            upstream=UPSTREAM,
            downstream=[{"county": "west", "url": "http://127.0.0.1:8082", "token_env": "WEST_TOKEN"}],
        ),
        "test config",
    )
    environment = {"DISPATCH_UPSTREAM_TOKEN": "up", "WEST_TOKEN": ""}

    tokens = link_tokens(config.upstream, config.downstream, {}, environment)

    assert tokens == {"upstream": "up"}
