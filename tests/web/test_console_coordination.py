"""The console across and up (issue 12), in Chromium: a sub-center's queue, the city's view of
department tasks, the prefecture link in the header, and an instruction from above."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, ViewportSize, expect

from dispatch.access.auth import issue_token
from dispatch.config.model import Config
from tests.factories import EAST_N, WEST_N, WEST_S, config_data, make_config, node, responder
from tests.link_servers import cap, issue_before_start
from tests.screens import CONSOLE_FULL_HD, CONSOLE_LAPTOP, ScreenServer, ScreenServerFactory
from tests.tcp_proxy import TcpProxy

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


async def test_console_subcenter_desk_sees_its_department_tasks_accepts_and_completes_one(
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

    await mine.get_by_role("button", name="办结").click()  # its part is done: it leaves the to-do list
    await expect(mine).to_have_count(0)
    await page.get_by_label("显示").select_option("all")
    await expect(mine).to_contain_text("已办结")
    await expect(page.locator("#uplink")).to_be_hidden()  # this server sends nowhere: no link to show
    states = {task["incident_id"]: task["state"] for task in await department_tasks(screen_server)}
    assert states[ours] == "done"
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
    incidents_tab = page.get_by_role("tab", name=re.compile("事件队列"))
    await expect(incidents_tab).to_have_attribute("aria-selected", "true")
    await incidents_tab.focus()
    await page.keyboard.press("ArrowRight")  # the tabs move with the arrow keys too
    tasks_tab = page.get_by_role("tab", name=re.compile("协办任务"))
    await expect(tasks_tab).to_have_attribute("aria-selected", "true")
    await page.keyboard.press("ArrowLeft")
    await expect(incidents_tab).to_have_attribute("aria-selected", "true")

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


# The prefecture link ---------------------------------------------------------------------------

PREFECTURE = "yiyang"
PREFECTURE_NAME = "益阳市应急指挥中心"


def prefecture_config(**overrides: Any) -> Config:
    """益阳市 above the test city (its county 沅江市, CAP sender `city`)."""
    return make_config(
        prefecture=None,
        jurisdictions=[
            {**node(PREFECTURE, "city", None, (111.6, 27.8, 112.4, 28.4)), "name": PREFECTURE_NAME},
            {**node("city", "town", PREFECTURE, (112.0, 28.0, 112.4, 28.2)), "name": "沅江市"},
        ],
        policies={
            name: {**policy, "notify_prefecture": False} for name, policy in config_data()["policies"].items()
        },
        responders=[responder("pref-duty-1", "city", 28.1, 112.2)],
        **overrides,
    )


def county_config(prefecture_url: str | None) -> Config:
    upstream = {"url": prefecture_url, "retry": {"first": "1s", "max": "1s"}} if prefecture_url else None
    return make_config(prefecture={"id": PREFECTURE, "name": PREFECTURE_NAME}, upstream=upstream)


def link_token(server: ScreenServer, peer: str) -> str:
    """A gateway token of `server` bound to `peer`'s CAP sender: what the peer's outbox posts with."""
    return issue_token(
        server.runtime.write_engine,
        server.config,
        role="gateway",
        name=peer,
        cap_senders=[peer],
        now=time.time(),
    )


@pytest.fixture
def proxy() -> Iterator[TcpProxyFactory]:
    proxies: list[TcpProxy] = []

    def make(port: int) -> TcpProxy:
        made = TcpProxy("127.0.0.1", port)
        made.start()
        proxies.append(made)
        return made

    yield make
    for each in proxies:
        each.close()


TcpProxyFactory = Callable[[int], TcpProxy]


async def test_console_shows_the_prefecture_link_going_down_and_up(
    make_screen_server: ScreenServerFactory, proxy: TcpProxyFactory
) -> None:
    prefecture = await make_screen_server(prefecture_config())
    wire = proxy(prefecture.client.port or 0)
    county = await make_screen_server(
        county_config(f"http://127.0.0.1:{wire.port}"),
        link_tokens={"upstream": link_token(prefecture, "city")},
    )
    page = await open_console(county, "wang", CONSOLE_FULL_HD)
    chip = page.locator(".uplink-chip[data-destination=upstream]")
    await expect(chip).to_contain_text(PREFECTURE_NAME)
    await expect(chip).to_contain_text("链路空闲")  # nothing sent yet

    wire.cut()  # the prefecture's line goes dead
    breach = alert("1", "waterlogging", WEST_N, "河堤管涌，水位超警戒")
    incident_id = (await county.post_alert({**breach, "severity": 2}))["incident_id"]

    await expect(chip).to_contain_text("链路中断，1 条待发")
    await expect(chip).to_have_class(re.compile("uplink-down"))
    await expect(chip).to_have_attribute("title", re.compile("最近错误"))  # the last error on hover
    await chip.hover()
    await county.shot(page, "link-down")

    wire.restore()
    county.clock.advance(2)  # past the retry's backoff

    await expect(chip).to_contain_text("链路正常")
    await row(page, incident_id).click()
    queued = page.locator(".timeline .event-outbound_queued").first
    await expect(queued).to_contain_text("已送达")
    await queued.scroll_into_view_if_needed()
    await county.shot(page, "link-up")
    at_prefecture = await prefecture.api("GET", "/api/v1/incidents?limit=10")
    assert [each["title"] for each in at_prefecture["incidents"]] == ["河堤管涌，水位超警戒"]


# Instructions from above ------------------------------------------------------------------------


async def instruct_from_above(county: ScreenServer, incident_id: int, number: int, text: str) -> None:
    """What the prefecture's outbox posts: an instruction, with the token the county issued it."""
    token = link_token(county, PREFECTURE)
    response = await county.client.post(
        "/api/v1/link/instructions",
        json={
            "identifier": f"{PREFECTURE}.instr.{number}",
            "incident_id": incident_id,
            "text": text,
            "from": PREFECTURE_NAME,
            "sent_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status == 202, await response.text()


async def test_console_rings_an_instruction_until_it_is_acknowledged(
    make_screen_server: ScreenServerFactory,
) -> None:
    county = await make_screen_server(county_config(None))
    incident_id = (await county.post_alert(alert("1", "waterlogging", WEST_N, "河堤管涌")))["incident_id"]
    page = await open_console(county, "wang", CONSOLE_FULL_HD)

    await instruct_from_above(county, incident_id, 1, "立即组织河堤下游群众转移")

    alarm = page.locator("#instructions .instruction")
    await expect(alarm).to_contain_text("上级指令")
    await expect(alarm).to_contain_text("立即组织河堤下游群众转移")
    await expect(alarm).to_contain_text(f"#{incident_id}")
    await expect(alarm).to_contain_text(PREFECTURE_NAME)
    await county.shot(page, "instruction-ringing")

    await page.reload()  # the alarm stays until somebody acknowledges it
    await expect(alarm).to_contain_text("立即组织河堤下游群众转移")

    await alarm.get_by_role("button", name="查看").click()
    await expect(page.locator(".timeline .event-instruction_received")).to_contain_text("待确认")
    await alarm.get_by_role("button", name="确认收到").click()

    await expect(page.locator("#instructions")).to_be_hidden()
    await expect(page.locator(".timeline .event-instruction_received")).to_contain_text("已确认收到")
    await expect(page.locator(".timeline")).to_contain_text("指令已签收")
    await county.shot(page, "instruction-acknowledged")
    still_open = await county.api("GET", "/api/v1/instructions?open=true")
    assert still_open["instructions"] == []


async def test_console_at_the_prefecture_instructs_the_county(
    make_screen_server: ScreenServerFactory,
) -> None:
    county_port = unused_port()  # the county's server is away: the instruction waits in the outbox
    downstream = [
        {"county": "city", "url": f"http://127.0.0.1:{county_port}", "retry": {"first": "1s", "max": "1s"}}
    ]
    prefecture = await make_screen_server(prefecture_config(downstream=downstream))
    token = link_token(prefecture, "city")
    taken = await prefecture.client.post(
        "/api/v1/link/cap",
        data=cap("city.7.1", 7, clock=prefecture.clock),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/xml"},
    )
    assert taken.status == 202, await taken.text()
    incident_id = (await taken.json())["incident_id"]
    page = await open_console(prefecture, "yiyang-desk", CONSOLE_FULL_HD)

    await row(page, incident_id).click()
    await expect(page.locator("#detail")).to_contain_text("对应县级事件：沅江市 #7")
    await page.locator("#detail [data-trigger=instruct]").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label(re.compile("指令内容")).fill("沅江市立即组织琼湖路沿线群众转移")
    await prefecture.shot(page, "prefecture-instruct-dialog")
    await dialog.get_by_role("button", name="确定").click()

    instruction = page.locator("#detail .instruction-list li")
    await expect(instruction).to_contain_text("沅江市立即组织琼湖路沿线群众转移")
    await expect(instruction).to_contain_text("待送达")  # the county is not reachable yet
    await expect(page.locator(".timeline")).to_contain_text("沅江市 #7")
    county_chip = page.locator(".uplink-chip[data-destination='county:city']")
    await expect(county_chip).to_contain_text("沅江市")
    await expect(county_chip).to_contain_text(re.compile("1 条"))  # sending, or down: it waits
    await prefecture.shot(page, "prefecture-instructed")
    [sent] = (await prefecture.api("GET", f"/api/v1/incidents/{incident_id}"))["instructions"]
    assert (sent["direction"], sent["county_incident_id"], sent["state"]) == ("sent", 7, "sent")


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_console_instruction_goes_down_and_its_acknowledgement_comes_back_up(
    make_screen_server: ScreenServerFactory, tmp_path: Path
) -> None:
    county_port, prefecture_port = unused_port(), unused_port()
    county_db, prefecture_db = (
        f"sqlite:///{tmp_path / 'county.db'}",
        f"sqlite:///{tmp_path / 'prefecture.db'}",
    )
    retry = {"first": "1s", "max": "1s"}
    county_setup = make_config(
        prefecture={"id": PREFECTURE, "name": PREFECTURE_NAME},
        upstream={"url": f"http://127.0.0.1:{prefecture_port}", "retry": retry},
    )
    prefecture_setup = prefecture_config(
        downstream=[{"county": "city", "url": f"http://127.0.0.1:{county_port}", "retry": retry}]
    )
    # Each posts with the token the other issued: issued before either starts, as an operator would.
    up = issue_before_start(prefecture_db, prefecture_setup, "city")
    down = issue_before_start(county_db, county_setup, PREFECTURE)
    county = await make_screen_server(
        county_setup, database_url=county_db, port=county_port, link_tokens={"upstream": up}
    )
    prefecture = await make_screen_server(
        prefecture_setup, database_url=prefecture_db, port=prefecture_port, link_tokens={"county:city": down}
    )
    above = await open_console(prefecture, "yiyang-desk", CONSOLE_LAPTOP)
    below = await open_console(county, "wang", CONSOLE_LAPTOP)

    breach = alert("1", "waterlogging", WEST_N, "琼湖路河堤管涌")
    await county.post_alert({**breach, "severity": 2})  # severity II: it goes up at once
    at_prefecture = above.locator(".incident-row").filter(has_text="沅江市")
    await at_prefecture.click()
    await above.locator("#detail [data-trigger=instruct]").click()
    await above.get_by_role("dialog").get_by_label(re.compile("指令内容")).fill("立即转移琼湖路低洼处群众")
    await above.get_by_role("dialog").get_by_role("button", name="确定").click()
    sent = above.locator("#detail .instruction-list li")
    await expect(sent).to_contain_text("已送达")  # the county took it

    alarm = below.locator("#instructions .instruction")
    await expect(alarm).to_contain_text("立即转移琼湖路低洼处群众")
    await county.shot(below, "county-rings")
    await alarm.get_by_role("button", name="确认收到").click()
    await expect(below.locator("#instructions")).to_be_hidden()

    await expect(sent).to_contain_text("已确认收到")  # the acknowledgement came back up
    await expect(sent).to_contain_text("wang")
    await prefecture.shot(above, "prefecture-sees-acknowledged")


async def test_console_resolve_refused_names_the_department_whose_part_is_open(
    screen_server: ScreenServer,
) -> None:
    incident_id = await incident_with_department(screen_server, "1", "waterlogging", "urban")
    page = await open_console(screen_server, "wang", CONSOLE_FULL_HD)
    await row(page, incident_id).click()
    await expect(page.locator("#detail .dept-parts")).to_contain_text("待接收")

    await page.locator(".actions [data-trigger=resolve]").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label(re.compile("办结摘要")).fill("积水已排除")
    await dialog.get_by_role("button", name="确定").click()

    refusal = dialog.get_by_role("alert")
    await expect(refusal).to_contain_text("协办部门的任务尚未办结")
    await expect(refusal).to_contain_text("Urban management（待接收）")
    await screen_server.shot(page, "resolve-refused-department-open")
    assert (await screen_server.api("GET", f"/api/v1/incidents/{incident_id}"))["state"] != "resolved"


async def test_console_subcenter_speaks_english_when_asked(screen_server: ScreenServer) -> None:
    incident_id = await incident_with_department(screen_server, "1", "waterlogging", "urban")
    page = await open_console(screen_server, "urban-desk", CONSOLE_LAPTOP, department="urban")
    await expect(task_row(page, incident_id)).to_contain_text("待接收")

    await page.get_by_role("button", name="English").click()

    await expect(page.get_by_role("tab", name=re.compile("Department tasks"))).to_be_visible()
    await expect(page.locator("#who")).to_contain_text("Department: Urban management")
    await expect(task_row(page, incident_id)).to_contain_text("Sent")
    await expect(task_row(page, incident_id).get_by_role("button", name="Accept")).to_be_visible()
    await screen_server.shot(page, "subcenter-english")
