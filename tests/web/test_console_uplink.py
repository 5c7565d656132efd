"""The console's header shows the prefecture link: down with what waits, then up again (Chromium).

The prefecture is tests/prefecture_standin.py until its side of the link is merged.
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.county_link import county_config
from tests.prefecture_standin import PrefectureStandIn
from tests.screens import CONSOLE_FULL_HD, ScreenServerFactory
from tests.web.test_console import flood, open_console

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_console_uplink_shows_the_prefecture_link_down_then_up(
    make_screen_server: ScreenServerFactory,
) -> None:
    prefecture = PrefectureStandIn(down=True)
    await prefecture.start()
    try:
        server = await make_screen_server(county_config(prefecture.url))
        page = await open_console(server, "wang", CONSOLE_FULL_HD)

        await server.post_alert(flood("breach", severity=2, title="南嘴镇堤防管涌"))

        uplink = page.locator("#uplink .uplink-chip[data-destination=upstream]")
        await expect(uplink).to_have_text(re.compile("Prefecture：链路中断，1 条待发"))
        await expect(uplink).to_have_class(re.compile("uplink-down"))
        await server.shot(page, "console-1920-uplink-down")

        prefecture.down = False
        server.clock.advance(10)  # past the backoff: the next try finds the prefecture back

        await expect(uplink).to_have_text(re.compile("Prefecture：链路正常"))
        await server.shot(page, "console-1920-uplink-up")
        assert len(prefecture.accepted) == 1
    finally:
        await prefecture.stop()


async def test_console_uplink_is_hidden_without_an_upstream(make_screen_server: ScreenServerFactory) -> None:
    server = await make_screen_server()
    page = await open_console(server, "li", CONSOLE_FULL_HD)

    await expect(page.locator("#uplink")).to_be_hidden()
