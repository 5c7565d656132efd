"""A database outage for real: PostgreSQL behind a TCP proxy that the test cuts and restores."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from dispatch.storage.tables import alert_table
from tests.conftest import Harness, ServerFactory
from tests.factories import alert
from tests.tcp_proxy import TcpProxy


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[TcpProxy]:
    upstream = sa.engine.make_url(postgres_url)
    proxy = TcpProxy(upstream.host or "127.0.0.1", upstream.port or 5432)
    proxy.start()
    yield proxy
    proxy.close()


@pytest.fixture
def database_url(postgres_url: str, proxy: TcpProxy) -> str:
    """The server reaches PostgreSQL only through the proxy (overrides conftest's two databases)."""
    url = sa.engine.make_url(postgres_url).set(host="127.0.0.1", port=proxy.port)
    return url.render_as_string(hide_password=False)


def _stored(engine: sa.Engine) -> list[str]:
    with engine.connect() as connection:
        return sorted(connection.execute(sa.select(alert_table.c.source_event_id)).scalars())


async def _post(server: Harness, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any, Any]:
    response = await server.client.post("/api/v1/alerts", json=body, headers=headers)
    return response.status, response.headers, await response.json()


@pytest.mark.parametrize("intake_during_cut", [True, False], ids=["posted-during-cut", "idle-during-cut"])
async def test_database_outage_refuses_with_503_and_recovers_on_the_first_request(
    make_server: ServerFactory,
    proxy: TcpProxy,
    postgres_url: str,
    engine_for: Callable[[str], sa.Engine],
    caplog: pytest.LogCaptureFixture,
    intake_during_cut: bool,
) -> None:
    server = await make_server()
    headers = server.auth("gateway")  # issued while the database answers
    before = [f"before-{index}" for index in range(3)]
    for index, event_id in enumerate(before):
        await server.post_alert(alert(event_id, source=f"gauge-{index}"))

    proxy.cut()
    caplog.clear()
    if intake_during_cut:
        for _attempt in range(3):  # a sensor retrying
            status, response_headers, body = await _post(server, alert("during"), headers)
            assert status == 503, body
            assert int(response_headers["Retry-After"]) > 0
            assert body["error"]["code"] == "database_unavailable"
            assert "nothing was written" in body["error"]["message"]
    ready = await server.client.get("/readyz")
    assert ready.status == 503
    assert int(ready.headers["Retry-After"]) > 0
    not_ready = (await ready.json())["error"]
    assert not_ready["database"] == "unreachable"
    assert not_ready["unreachable_since"] is not None
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1 and "database unreachable" in errors[0].getMessage()
    assert errors[0].exc_info is None  # one line, no traceback

    proxy.restore()
    status, _, received = await _post(server, alert("during"), headers)
    assert status == 202, received
    assert received["duplicate"] is False  # the refused attempts wrote nothing
    ready = await server.client.get("/readyz")
    assert ready.status == 200
    assert (await ready.json())["database"] == "ok"

    direct = engine_for(postgres_url)  # not through the proxy
    assert _stored(direct) == sorted([*before, "during"])
