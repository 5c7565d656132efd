"""The dispatcher console, driven in Chromium as a dispatcher uses it: mouse, keyboard, eyes."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from playwright.async_api import Page, ViewportSize, expect

from tests.factories import EAST_N, WEST_N, WEST_S
from tests.screens import CONSOLE_FULL_HD, CONSOLE_LAPTOP, ScreenServer

pytestmark = pytest.mark.asyncio(loop_scope="session")


def flood(source_event_id: str, location: dict[str, float] = WEST_N, **fields: Any) -> dict[str, Any]:
    return {
        "source": fields.pop("source", f"gauge-{source_event_id}"),
        "source_event_id": source_event_id,
        "kind": "sensor",
        "category": "waterlogging",
        "location": location,
        "title": fields.pop("title", "积水 0.3 m"),
        **fields,
    }


def row(page: Page, incident_id: int) -> Any:
    return page.locator(f"#incident-{incident_id}")


async def open_console(server: ScreenServer, name: str, viewport: ViewportSize, **account: Any) -> Page:
    server.user(name, "dispatcher", **account)
    page = await server.page(viewport)
    await server.login(page, name, expect_path="/console/")
    await expect(page.locator("#link")).to_have_text(re.compile("在线"))
    return page


async def timeline_types(server: ScreenServer, incident_id: int) -> list[str]:
    incident = await server.api("GET", f"/api/v1/incidents/{incident_id}")
    return [event["type"] for event in incident["timeline"]]


async def test_console_alert_appears_live_and_the_dispatcher_assigns_it(screen_server: ScreenServer) -> None:
    page = await open_console(screen_server, "wang", CONSOLE_FULL_HD)
    await expect(page.locator("#queue")).to_contain_text("没有符合条件的事件")

    alert = await screen_server.post_alert(flood("1", title="解放路积水 0.3 m"))
    incident_id = alert["incident_id"]

    incident = row(page, incident_id)
    await expect(incident).to_contain_text("解放路积水 0.3 m")
    await expect(incident).to_contain_text("Ⅲ级")  # the grade in words beside its colour
    await expect(page.locator(".leaflet-marker-icon.incident-marker")).to_have_count(1)
    await expect(page.get_by_role("alert").filter(has_text="新事件")).to_contain_text(f"#{incident_id}")
    await screen_server.shot(page, "console-1920-new-incident")

    await incident.click()
    await expect(page.locator("#detail-heading")).to_contain_text(f"#{incident_id}")
    await page.locator(".actions [data-trigger=assign]").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("grid-west-n-2").check()
    await dialog.get_by_label(re.compile("原因")).fill("离得近，先去看看")
    await screen_server.shot(page, "console-1920-assign-dialog")
    await dialog.get_by_role("button", name="确定").click()

    await expect(page.locator(".timeline")).to_contain_text("人工指派")
    await expect(page.locator(".timeline")).to_contain_text("离得近，先去看看")
    await expect(page.locator(".tasks")).to_contain_text("grid-west-n-2")
    await screen_server.shot(page, "console-1920-assigned")
    assert "incident_assigned" in await timeline_types(screen_server, incident_id)


async def test_console_keyboard_moves_opens_escalates_and_resolves(screen_server: ScreenServer) -> None:
    first = (await screen_server.post_alert(flood("1")))["incident_id"]
    second = (await screen_server.post_alert(flood("2", location=WEST_S, source="gauge-s")))["incident_id"]
    page = await open_console(screen_server, "wang", CONSOLE_LAPTOP)
    await expect(row(page, second)).to_be_visible()

    await page.locator("#queue").focus()
    await page.keyboard.press("ArrowDown")  # the newest first
    await page.keyboard.press("ArrowDown")
    await expect(row(page, first)).to_have_attribute("aria-selected", "true")
    await page.keyboard.press("Enter")
    await expect(page.locator("#detail-heading")).to_contain_text(f"#{first}")
    await screen_server.shot(page, "console-1366-detail")

    await page.keyboard.press("e")
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_contain_text("上报上级")
    await dialog.get_by_label(re.compile("原因")).fill("需要镇里的抽水泵")
    await dialog.get_by_role("button", name="确定").click()
    await expect(page.locator(".timeline")).to_contain_text("需要镇里的抽水泵")

    await page.keyboard.press("r")
    await expect(dialog).to_contain_text("办结")
    await dialog.get_by_role("button", name="确定").click()
    await expect(dialog.get_by_role("alert")).to_contain_text("请填写办结摘要")  # the summary is required
    await dialog.get_by_label(re.compile("办结摘要")).fill("积水已排除")
    await dialog.get_by_role("button", name="确定").click()
    await expect(page.locator("#detail .state-chip").first).to_have_text("已办结")
    await screen_server.shot(page, "console-1366-resolved")
    types = await timeline_types(screen_server, first)
    assert types.count("incident_escalated") == 1
    assert "incident_resolved" in types


async def test_console_refused_action_says_what_is_allowed_instead(screen_server: ScreenServer) -> None:
    incident_id = (await screen_server.post_alert(flood("1")))["incident_id"]
    page = await open_console(screen_server, "wang", CONSOLE_FULL_HD)
    await row(page, incident_id).click()
    await expect(page.locator("#detail-heading")).to_contain_text(f"#{incident_id}")

    # Another dispatcher resolves it meanwhile: this console still offers the old actions.
    await screen_server.api("POST", f"/api/v1/incidents/{incident_id}/resolve", {"reason": "done elsewhere"})
    await page.locator(".actions [data-trigger=escalate]").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_role("button", name="确定").click()

    await expect(dialog.get_by_role("alert")).to_contain_text("当前状态不允许此操作")
    await expect(dialog.get_by_role("alert")).to_contain_text("现在可以：归档、重新打开")
    await screen_server.shot(page, "console-409-allowed-instead")


async def test_console_town_dispatcher_never_sees_another_towns_incident(screen_server: ScreenServer) -> None:
    west = (await screen_server.post_alert(flood("1", title="西镇积水")))["incident_id"]
    page = await open_console(screen_server, "west-desk", CONSOLE_FULL_HD, jurisdiction="west")

    east = (await screen_server.post_alert(flood("2", location=EAST_N, source="gauge-e", title="东镇积水")))[
        "incident_id"
    ]
    later_west = (
        await screen_server.post_alert(flood("3", location=WEST_S, source="gauge-w", title="西镇又积水"))
    )["incident_id"]

    await expect(row(page, later_west)).to_be_visible()  # live events of its own town arrive …
    await expect(row(page, west)).to_be_visible()
    await expect(row(page, east)).to_have_count(0)  # … and the other town's never do
    await expect(page.locator("#queue")).not_to_contain_text("东镇积水")
    await expect(page.locator(".leaflet-marker-icon.incident-marker")).to_have_count(2)
    jurisdictions = await (await page.request.get("/api/v1/jurisdictions")).json()
    assert {feature["id"] for feature in jurisdictions["features"]} == {"west", "west-n", "west-s"}
    hidden = await page.request.get(f"/api/v1/incidents/{east}")
    assert hidden.status == 404
    stats = await (await page.request.get("/api/v1/stats")).json()  # what its big screen would show
    assert sorted(each["id"] for each in stats["incidents"]) == sorted([west, later_west])
    assert stats["open"]["total"] == 2
    await screen_server.shot(page, "console-town-scope")


async def test_console_announces_an_escalation_into_its_center(screen_server: ScreenServer) -> None:
    incident_id = (await screen_server.post_alert(flood("1")))["incident_id"]
    page = await open_console(screen_server, "west-desk", CONSOLE_FULL_HD, jurisdiction="west")

    screen_server.clock.advance(61)  # the street's grid worker never accepted
    await screen_server.runtime.deadlines.run_once()

    banner = page.get_by_role("alert").filter(has_text="上报到本级")
    await expect(banner).to_contain_text(f"#{incident_id}")
    await screen_server.shot(page, "console-escalated-banner")
    await banner.get_by_role("button", name="查看").click()
    await expect(page.locator("#detail-heading")).to_contain_text(f"#{incident_id}")
    await expect(page.locator("#detail")).to_contain_text("镇街级")


async def test_console_catches_up_after_its_socket_drops(screen_server: ScreenServer) -> None:
    page = await open_console(screen_server, "wang", CONSOLE_FULL_HD)

    await page.context.set_offline(True)
    await expect(page.locator("#link")).to_have_text(re.compile("离线/重连中"))
    await screen_server.shot(page, "console-offline")
    missed = (await screen_server.post_alert(flood("1", title="断线期间的告警")))["incident_id"]
    await page.context.set_offline(False)

    await expect(page.locator("#link")).to_have_text(re.compile("在线"))
    await expect(row(page, missed)).to_contain_text("断线期间的告警")


async def test_console_report_and_csv_export(screen_server: ScreenServer) -> None:
    incident_id = (await screen_server.post_alert(flood("1", title="解放路积水")))["incident_id"]
    task = (await screen_server.api("GET", f"/api/v1/incidents/{incident_id}"))["tasks"][0]
    unit = screen_server.token("responder", "grid-west-n-1", responder="grid-west-n-1")
    for trigger in ("accept", "arrive"):
        screen_server.clock.advance(30)
        response = await screen_server.client.post(
            f"/api/v1/tasks/{task['id']}/{trigger}", headers={"Authorization": f"Bearer {unit}"}
        )
        assert response.status == 200
    await screen_server.api("POST", f"/api/v1/incidents/{incident_id}/resolve", {"reason": "已排水"})
    page = await open_console(screen_server, "wang", CONSOLE_FULL_HD)

    await page.locator("#filter-state").select_option("all")
    await row(page, incident_id).click()
    async with page.context.expect_page() as opened:
        await page.get_by_role("link", name="打印报告").click()
    report = await opened.value
    await expect(report.get_by_role("heading", level=1)).to_contain_text(f"#{incident_id}")
    await expect(report.locator("table").first).to_contain_text("30 秒")  # task → accepted
    await expect(report.locator("table").first).to_contain_text("1 分")  # task → on scene
    await expect(report.locator("body")).to_contain_text("已排水")
    await screen_server.shot(report, "report")

    await page.get_by_role("button", name="导出 CSV").click()
    async with page.expect_download() as downloading:
        await page.get_by_role("dialog").get_by_role("button", name="下载").click()
    download = await downloading.value
    text = (await (await page.request.get(download.url)).body()).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["事件编号", "上报时间", "类别"]
    [line] = [each for each in rows[1:] if each[0] == str(incident_id)]
    assert line[2] == "Waterlogging"  # the category's configured name
    assert line[4] == "已办结"
    assert (line[14], line[15]) == ("30", "60")


async def test_console_speaks_english_when_asked(screen_server: ScreenServer) -> None:
    await screen_server.post_alert(flood("1"))
    page = await open_console(screen_server, "wang", CONSOLE_FULL_HD)
    await expect(page.locator("h1")).to_have_text("调度台")

    await page.get_by_role("button", name="English").click()

    await expect(page.locator("h1")).to_have_text("Console")
    await expect(page.locator("#queue")).to_contain_text("Dispatched")
    await expect(page.locator("#link")).to_have_text(re.compile("Online"))
    await screen_server.shot(page, "console-english")
    await page.reload()
    await expect(page.locator("h1")).to_have_text("Console")  # the choice is remembered


async def test_console_is_for_dispatchers(screen_server: ScreenServer) -> None:
    screen_server.user("zhang", "responder", responder="grid-west-n-1")
    page = await screen_server.page(CONSOLE_FULL_HD)

    await screen_server.login(page, "zhang", expect_path="/tablet/")
    await page.goto("/console/")

    await page.wait_for_url("**/tablet/")  # sent back to its own screen
    answer = await page.request.get("/api/v1/incidents")
    assert answer.status == 403


async def test_console_shows_a_hostile_title_as_text(screen_server: ScreenServer) -> None:
    hostile = "<img src=x onerror=\"document.title='owned'\">积水"
    page = await open_console(screen_server, "wang", CONSOLE_FULL_HD)

    incident_id = (await screen_server.post_alert(flood("1", title=hostile)))["incident_id"]
    await row(page, incident_id).click()

    await expect(row(page, incident_id)).to_contain_text(hostile)  # the words, not markup
    await expect(page.locator("#detail .detail-subtitle")).to_have_text(hostile)
    assert await page.locator("#queue img, #detail img").count() == 0
    assert await page.title() != "owned"
