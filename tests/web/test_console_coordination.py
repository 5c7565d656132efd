"""The console across and up (issue 12), in Chromium: a sub-center's queue, the city's view of
department tasks, the prefecture link in the header, and an instruction from above."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import Page, ViewportSize, expect

from tests.factories import EAST_N, WEST_N, WEST_S
from tests.screens import CONSOLE_FULL_HD, CONSOLE_LAPTOP, ScreenServer

pytestmark = pytest.mark.asyncio(loop_scope="session")


def alert(source_event_id: str, category: str, location: dict[str, float], title: str) -> dict[str, Any]:
    return {
        "source": f"sensor-{source_event_id}",
        "source_event_id": source_event_id,
        "kind": "sensor",
        "category": category,
        "location": location,
        "title": title,
    }


async def incident_with_department(
    server: ScreenServer, number: str, category: str, department: str, **where: Any
) -> int:
    """An incident of `category` with `department` added as co-handler: a department task."""
    location = where.get("location", WEST_N)
    answer = await server.post_alert(alert(number, category, location, where.get("title", f"事件 {number}")))
    incident_id: int = answer["incident_id"]
    await server.api("POST", f"/api/v1/incidents/{incident_id}/add_department", {"department": department})
    return incident_id


async def department_tasks(server: ScreenServer) -> list[dict[str, Any]]:
    answer = await server.api("GET", "/api/v1/department-tasks")
    tasks: list[dict[str, Any]] = answer["department_tasks"]
    return tasks


async def open_console(server: ScreenServer, name: str, viewport: ViewportSize, **account: Any) -> Page:
    server.user(name, "dispatcher", **account)
    page = await server.page(viewport)
    await server.login(page, name, expect_path="/console/")
    await expect(page.locator("#link")).to_have_text(re.compile("在线"))
    return page


def row(page: Page, incident_id: int) -> Any:
    return page.locator(f"#incident-{incident_id}")


def task_row(page: Page, incident_id: int) -> Any:
    return page.locator(f".dept-task[data-incident='{incident_id}']")


async def test_console_subcenter_desk_sees_its_department_tasks_and_accepts_one(
    screen_server: ScreenServer,
) -> None:
    ours = await incident_with_department(
        screen_server, "1", "waterlogging", "urban", title="解放路积水，需清障"
    )
    theirs = await incident_with_department(
        screen_server, "2", "vending", "flood", location=EAST_N, title="东镇占道经营，河堤旁"
    )
    page = await open_console(screen_server, "urban-desk", CONSOLE_FULL_HD, department="urban")

    # The desk's main view is its department's queue: only its own task, waiting to be accepted.
    await expect(page.get_by_role("tab", name=re.compile("协办任务"))).to_have_attribute(
        "aria-selected", "true"
    )
    mine = task_row(page, ours)
    await expect(mine).to_contain_text("Urban management")
    await expect(mine).to_contain_text("待接收")
    await expect(mine).to_contain_text("接收时限")
    await expect(task_row(page, theirs)).to_have_count(0)
    await expect(page.locator("#who")).to_contain_text("协办部门：Urban management")
    await screen_server.shot(page, "subcenter-queue")

    # A new task for the desk arrives live, and is announced.
    later = await incident_with_department(
        screen_server, "3", "waterlogging", "urban", location=WEST_S, title="南街积水"
    )
    await expect(task_row(page, later)).to_contain_text("待接收")
    await expect(page.get_by_role("alert").filter(has_text="新协办任务")).to_contain_text(f"#{later}")

    await mine.get_by_role("button", name="接收").click()

    await expect(mine).to_contain_text("已接收")
    await expect(mine.get_by_role("button", name="办结")).to_be_visible()
    await screen_server.shot(page, "subcenter-accepted")

    # Its incident, opened from the queue: its department's part, and no city dispatcher's actions.
    await mine.get_by_role("button", name="查看事件").click()
    await expect(page.locator("#detail-heading")).to_contain_text(f"#{ours}")
    await expect(page.locator("#detail .dept-parts")).to_contain_text("已接收")
    await expect(page.locator("#detail .actions, #detail .task-actions")).to_have_count(0)
    await screen_server.shot(page, "subcenter-incident")
    states = {task["incident_id"]: task["state"] for task in await department_tasks(screen_server)}
    assert states[ours] == "accepted"
    assert states[later] == "sent"


async def test_console_subcenter_desk_declines_with_a_reason(screen_server: ScreenServer) -> None:
    incident_id = await incident_with_department(screen_server, "1", "waterlogging", "urban")
    page = await open_console(screen_server, "urban-desk", CONSOLE_LAPTOP, department="urban")

    await task_row(page, incident_id).get_by_role("button", name="退回").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_role("button", name="确定").click()
    await expect(dialog.get_by_role("alert")).to_contain_text("请填写退回原因")  # the reason is required
    await dialog.get_by_label(re.compile("退回原因")).fill("不属于城管职责")
    await screen_server.shot(page, "subcenter-decline-dialog")
    await dialog.get_by_role("button", name="确定").click()

    await page.get_by_label("显示").select_option("all")
    await expect(task_row(page, incident_id)).to_contain_text("已退回")
    await expect(task_row(page, incident_id)).to_contain_text("不属于城管职责")
    [task] = await department_tasks(screen_server)
    assert (task["state"], task["reason"]) == ("declined", "不属于城管职责")


async def test_console_city_sees_a_department_task_nobody_accepted_stand_out(
    screen_server: ScreenServer,
) -> None:
    incident_id = await incident_with_department(
        screen_server, "1", "waterlogging", "urban", title="解放路积水"
    )
    page = await open_console(screen_server, "wang", CONSOLE_FULL_HD)
    await expect(page.get_by_role("tab", name=re.compile("事件队列"))).to_have_attribute(
        "aria-selected", "true"
    )

    screen_server.clock.advance(screen_server.config.policies["standard"].department_accept_within + 1)
    await screen_server.runtime.deadlines.run_once()

    banner = page.get_by_role("alert").filter(has_text="协办超时未接收")
    await expect(banner).to_contain_text(f"#{incident_id}")
    tab = page.get_by_role("tab", name=re.compile("协办任务"))
    await expect(tab).to_contain_text("超时 1")
    await tab.click()
    row = task_row(page, incident_id)
    await expect(row).to_have_class(re.compile("escalated"))
    await expect(row).to_contain_text("超时未接收，已上报市中心")
    await screen_server.shot(page, "city-department-task-escalated")
