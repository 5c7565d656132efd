"""The dispatcher and the responder at once: a console assigns, a tablet elsewhere rings and accepts."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.factories import WEST_N
from tests.screens import CONSOLE_FULL_HD, TABLET, ScreenServer

pytestmark = pytest.mark.asyncio(loop_scope="session")

UNIT = "grid-west-n-2"


async def test_screens_console_assigns_and_sees_the_tablet_accept(screen_server: ScreenServer) -> None:
    screen_server.user("wang", "dispatcher")
    screen_server.user("li", "responder", responder=UNIT)
    console = await screen_server.page(CONSOLE_FULL_HD)
    tablet = await screen_server.page(TABLET)
    await screen_server.login(console, "wang", expect_path="/console/")
    await screen_server.login(tablet, "li", expect_path="/tablet/")
    await expect(tablet.locator("#link")).to_have_text(re.compile("在线"))

    alert = await screen_server.post_alert(
        {
            "source": "gauge-1",
            "source_event_id": "1",
            "kind": "sensor",
            "category": "waterlogging",
            "location": WEST_N,
            "title": "解放路积水",
        }
    )
    incident = alert["incident_id"]
    await console.locator(f"#incident-{incident}").click()
    await console.keyboard.press("a")
    dialog = console.get_by_role("dialog")
    await dialog.get_by_label(UNIT).check()
    await dialog.get_by_label(re.compile("原因")).fill("你离得最近")
    await dialog.get_by_role("button", name="确定").click()

    ring = tablet.locator("#overlay[open]")
    await expect(ring).to_contain_text("解放路积水")
    await screen_server.shot(tablet, "tablet-rings")
    task = console.locator(f".task[data-task] >> text={UNIT}").locator("xpath=ancestor::li[1]")
    await expect(task).to_contain_text("已送达")  # the tablet's receipt, sent as the task showed
    await ring.get_by_role("button", name=re.compile("接单")).click()

    await expect(task).to_contain_text("已接单")
    await expect(task).to_contain_text("平板在线")  # the channel that delivered it
    await expect(console.locator(".timeline")).to_contain_text("接单")
    await screen_server.shot(console, "console-sees-acceptance")
    await screen_server.shot(tablet, "tablet-accepted")
    detail = await screen_server.api("GET", f"/api/v1/incidents/{incident}")
    [mine] = [each for each in detail["tasks"] if each["responder_id"] == UNIT]
    assert mine["state"] == "accepted" and mine["delivered_via"] == "websocket"
