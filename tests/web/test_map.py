"""The screens' map: offline by default, an intranet tile layer when configured, GCJ-02 shifted right."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Request, expect

from tests.factories import config_data, make_config
from tests.screens import CONSOLE_FULL_HD, ScreenServerFactory

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Reference values from the `eviltransform` package (PyPI), which implements the same published
# formula: WGS-84 → GCJ-02 for a point in 沅江, one in Beijing and one in Shanghai.
GCJ02 = [
    ((28.845, 112.355), (28.84202581752591, 112.3607329856419)),
    ((39.90868, 116.3975), (39.91008352224298, 116.40374367582316)),
    ((31.1774276, 121.5272106), (31.175303947687105, 121.53154193255554)),
    ((48.85, 2.35), (48.85, 2.35)),  # outside China the datums agree
]


async def test_map_draws_the_polygons_and_fetches_nothing_from_elsewhere(
    make_screen_server: ScreenServerFactory,
) -> None:
    server = await make_screen_server()
    server.user("wang", "dispatcher")
    page = await server.page(CONSOLE_FULL_HD)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    await server.login(page, "wang", expect_path="/console/")

    await expect(page.locator(".area-name-town")).to_have_count(2)  # the towns, named on the map
    await expect(page.locator(".area-name-town").first).to_have_text("WEST")
    await expect(
        page.locator(".leaflet-overlay-pane canvas, .leaflet-overlay-pane svg").first
    ).to_be_visible()
    assert await page.locator(".leaflet-tile").count() == 0
    foreign = [url for url in requests if not url.startswith((server.url, "data:", "blob:"))]
    assert foreign == []


async def test_map_adds_the_configured_tile_layer(make_screen_server: ScreenServerFactory) -> None:
    config = make_config(map={"tile_url": "/tiles/{z}/{x}/{y}.png", "tile_attribution": "市测绘院"})
    server = await make_screen_server(config)
    server.user("wang", "dispatcher")
    page = await server.page(CONSOLE_FULL_HD)
    tiles: list[Request] = []
    page.on("request", lambda request: tiles.append(request) if "/tiles/" in request.url else None)

    await server.login(page, "wang", expect_path="/console/")

    await expect(page.locator(".leaflet-control-attribution")).to_contain_text("市测绘院")
    await expect(page.locator(".leaflet-tile").first).to_be_attached()
    assert tiles and all(request.url.endswith(".png") for request in tiles)


async def test_map_gcj02_offset_matches_the_published_formula(
    make_screen_server: ScreenServerFactory,
) -> None:
    server = await make_screen_server()
    page = await server.page(CONSOLE_FULL_HD)
    await page.goto("/")

    shifted: list[Any] = await page.evaluate(
        """async (points) => {
            const map = await import("/static/common/map.js");
            return points.map(([lat, lon]) => {
                const there = map.wgs84ToGcj02(lat, lon);
                return [there, map.gcj02ToWgs84(...there)];
            });
        }""",
        [point for point, _ in GCJ02],
    )

    for (point, expected), (there, back) in zip(GCJ02, shifted, strict=True):
        assert there == pytest.approx(expected, abs=1e-6)  # ~10 cm: variants differ in the last digits
        assert back == pytest.approx(point, abs=1e-7)  # well under a centimetre


async def test_map_config_refuses_a_tile_url_without_its_placeholders() -> None:
    with pytest.raises(Exception, match=r"map\.tile_url"):
        make_config(map={"tile_url": "https://tiles.example/tile.png"})
    assert config_data()  # the valid base the refusal was made from
