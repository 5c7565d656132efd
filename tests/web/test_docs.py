"""The browsable API page: Swagger UI from the wheel's own files, open to anyone, and no more."""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.conftest import Harness


async def test_docs_page_and_its_assets_need_no_token(server: Harness) -> None:
    page = await server.client.get("/api/docs")
    html = await page.text()

    assert page.status == 200
    assert page.content_type == "text/html"
    assert 'url: "openapi.json"' in html
    assets = re.findall(r'(?:src|href)="(docs/assets/[^"]+)"', html)
    assert len(assets) == 3
    for asset in assets:
        response = await server.client.get(f"/api/{asset}")
        assert response.status == 200, asset
        assert await response.read(), asset


@pytest.mark.parametrize(
    "path", ["/api/docs/assets/../../v1/incidents", "/api/docs/assets/%2e%2e/%2e%2e/v1/incidents"]
)
async def test_docs_assets_do_not_open_other_paths(server: Harness, path: str) -> None:
    # Sent as raw bytes: HTTP clients would normalize the dot segments away.
    reader, writer = await asyncio.open_connection(server.client.host, server.client.port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()

    status = int(answer.split(b" ", 2)[1])
    assert status in (401, 403, 404), answer
    assert b'"incidents"' not in answer
