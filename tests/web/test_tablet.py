"""The responder tablet app (/tablet/) as a grid worker meets it: rings, acts, loses signal."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, Playwright, Route, ViewportSize, expect

from dispatch.access.authz import RESPONDER_TASK_TRIGGERS
from state_machines.task import TASK_TRANSITIONS, TaskState
from tests.factories import WEST_N, alert
from tests.screens import CHROMIUM, CHROMIUM_ARGS, PHONE, TABLET, ScreenServer, eventually
from web import i18n
from web.i18n import tablet as tablet_words

pytestmark = pytest.mark.asyncio(loop_scope="session")

TABLET_TRIGGERS = RESPONDER_TASK_TRIGGERS - {"deliver"}
"""The tablet's buttons: a responder's triggers but the receipt, which it sends by itself."""

UNIT = "grid-west-n-1"
"""The grid worker of street west-n: an alert at WEST_N gives it a task."""


async def _tablet(server: ScreenServer, viewport: ViewportSize = TABLET, **kwargs: Any) -> Page:
    """The unit's responder logged in on a tablet of its own, live on the socket."""
    server.user("zhang", "responder", responder=UNIT)
    page = await server.page(viewport, **kwargs)
    await server.login(page, "zhang", expect_path="/tablet/")
    await expect(page.locator("body")).to_have_attribute("data-link", "online")
    return page


async def _task(server: ScreenServer, incident_id: int, responder: str = UNIT) -> dict[str, Any]:
    incident = await server.api("GET", f"/api/v1/incidents/{incident_id}")
    [task] = [task for task in incident["tasks"] if task["responder_id"] == responder]
    return dict(task)


async def _state_is(server: ScreenServer, incident_id: int, state: str) -> None:
    async def check() -> bool:
        return bool((await _task(server, incident_id))["state"] == state)

    await eventually(check, f"the task of incident {incident_id} is {state}")


async def test_tablet_new_task_rings_sends_its_receipt_and_is_worked_to_the_end(
    screen_server: ScreenServer,
) -> None:
    page = await _tablet(screen_server)
    await expect(page.locator("#card")).to_contain_text("暂无任务")

    posted = await screen_server.post_alert(alert("1", title="人民路积水 30 厘米"))

    overlay = page.get_by_role("alertdialog")
    await expect(overlay).to_be_visible()
    await expect(overlay).to_contain_text("新任务")
    await expect(overlay).to_contain_text("Waterlogging")
    await expect(overlay).to_contain_text("人民路积水 30 厘米")
    await expect(page.locator("body")).to_have_attribute("data-ringing", "true")
    await _state_is(screen_server, posted["incident_id"], "delivered")  # the receipt, sent on display
    await expect(overlay).to_contain_text("WEST / WEST-N")  # place words arrive with the list
    await screen_server.shot(page, "tablet-ringing")

    await overlay.get_by_role("button", name="接单").click()

    await expect(overlay).to_be_hidden()
    await expect(page.locator("body")).to_have_attribute("data-ringing", "false")
    await _state_is(screen_server, posted["incident_id"], "accepted")
    await expect(page.locator("#card .card-state")).to_contain_text("已接单")
    await expect(page.locator("#card").get_by_role("button", name="出发")).to_be_visible()
    await screen_server.shot(page, "tablet-accepted")

    card = page.locator("#card")
    await card.get_by_role("button", name="出发").click()
    await expect(card.locator(".card-state")).to_have_text("出发中")
    await card.get_by_role("button", name="到达现场").click()
    await expect(card.locator(".card-state")).to_have_text("已到场")
    await card.get_by_role("button", name="处置完成").click()
    dialog = page.get_by_role("dialog", name="处置完成")
    await dialog.get_by_label("处置情况（选填）").fill("已抽排积水，道路恢复通行")
    await dialog.get_by_role("button", name="处置完成").click()

    await _state_is(screen_server, posted["incident_id"], "done")
    await expect(card.locator(".card-state")).to_have_text("已完成")
    await expect(page.locator("#list")).to_contain_text("已结束（24 小时内）")
    timeline = (await screen_server.api("GET", f"/api/v1/incidents/{posted['incident_id']}"))["timeline"]
    [completed] = [event for event in timeline if event["type"] == "task_completed"]
    assert completed["payload"]["note"] == "已抽排积水，道路恢复通行"
    assert completed["payload"]["channel"] == "websocket"


async def test_tablet_offline_actions_land_once_and_a_task_given_meanwhile_rings_on_reconnect(
    screen_server: ScreenServer,
) -> None:
    page = await _tablet(screen_server)
    first = await screen_server.post_alert(alert("1", title="人民路积水"))
    overlay = page.get_by_role("alertdialog")
    await overlay.get_by_role("button", name="接单").click()
    await _state_is(screen_server, first["incident_id"], "accepted")
    card = page.locator("#card")

    await page.context.set_offline(True)
    await expect(page.locator("body")).to_have_attribute("data-link", "offline")
    await expect(page.locator("#link")).to_have_text("离线/重连中")
    await expect(page.locator("#offline")).to_contain_text("操作已保存在本机")
    await card.get_by_role("button", name="出发").click()
    await card.get_by_role("button", name="到达现场").click()
    await expect(card.locator(".card-state")).to_contain_text("已到场")  # as it will be
    await expect(card.locator(".card-state")).to_contain_text("待发送 2")
    await expect(page.locator("#outbox-count")).to_have_text("待发送 2")
    await expect(card.locator(".queued")).to_contain_text("到达现场")
    second = await screen_server.post_alert(
        alert("2", location={"lat": 28.19, "lon": 112.02}, title="桥洞积水")
    )  # opens another incident: its task goes to the other, free, grid worker
    await screen_server.api(
        "POST",
        f"/api/v1/incidents/{second['incident_id']}/assign",
        {"responder_id": UNIT, "reason": "就近支援排水"},
    )
    await screen_server.shot(page, "tablet-offline-pending")
    assert (await _task(screen_server, first["incident_id"]))["state"] == "accepted"
    await expect(overlay).to_be_hidden()

    await page.context.set_offline(False)

    await expect(page.locator("body")).to_have_attribute("data-link", "online")
    await expect(overlay).to_contain_text("桥洞积水")  # assigned while offline: rings on reconnect
    await expect(overlay).to_contain_text("就近支援排水")
    await expect(page.locator("body")).to_have_attribute("data-ringing", "true")
    await _state_is(screen_server, first["incident_id"], "on_scene")
    await expect(page.locator("#outbox-count")).to_be_hidden()
    timeline = (await screen_server.api("GET", f"/api/v1/incidents/{first['incident_id']}"))["timeline"]
    moves = [event["type"] for event in timeline if event["type"] in ("task_departed", "task_arrived")]
    assert moves == ["task_departed", "task_arrived"]  # each exactly once, in order
    await _state_is(screen_server, second["incident_id"], "delivered")
    await screen_server.shot(page, "tablet-back-online")
    await overlay.get_by_role("button", name="查看").click()
    await expect(card.locator(".card-state")).to_contain_text("已送达")
    await expect(card.locator(".notes")).to_contain_text("就近支援排水")


async def test_tablet_decline_asks_why_and_the_reason_lands_in_the_timeline(
    screen_server: ScreenServer,
) -> None:
    page = await _tablet(screen_server)
    posted = await screen_server.post_alert(alert("1"))
    overlay = page.get_by_role("alertdialog")
    await overlay.get_by_role("button", name="查看").click()  # stops the ring, leaves it unanswered
    await expect(overlay).to_be_hidden()
    await expect(page.locator("body")).to_have_attribute("data-ringing", "false")
    await _state_is(screen_server, posted["incident_id"], "delivered")

    await page.locator("#card").get_by_role("button", name="拒绝").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_role("button", name="拒绝").click()
    await expect(dialog.get_by_role("alert")).to_have_text("请选择或填写拒绝原因")
    await dialog.get_by_label("距离太远，无法及时到达").check()
    await dialog.get_by_label("补充说明").fill("车辆故障")
    await screen_server.shot(page, "tablet-decline-reason")
    await dialog.get_by_role("button", name="拒绝").click()

    await _state_is(screen_server, posted["incident_id"], "declined")
    await expect(page.locator("#card .card-state")).to_contain_text("已拒绝")
    timeline = (await screen_server.api("GET", f"/api/v1/incidents/{posted['incident_id']}"))["timeline"]
    [declined] = [event for event in timeline if event["type"] == "task_declined"]
    assert declined["payload"]["note"] == "距离太远，无法及时到达：车辆故障"


async def test_tablet_a_task_cancelled_while_ringing_stops_and_says_so(screen_server: ScreenServer) -> None:
    page = await _tablet(screen_server)
    posted = await screen_server.post_alert(alert("1"))
    overlay = page.get_by_role("alertdialog")
    await expect(overlay).to_contain_text("新任务")
    task = await _task(screen_server, posted["incident_id"])

    await screen_server.api("POST", f"/api/v1/tasks/{task['id']}/cancel", {"note": "误报"})

    await expect(overlay).to_contain_text("任务已取消")
    await expect(page.locator("body")).to_have_attribute("data-ringing", "false")
    await overlay.get_by_role("button", name="知道了").click()
    await expect(overlay).to_be_hidden()
    await expect(page.locator("#card .card-state")).to_contain_text("已取消")


async def test_tablet_i_am_here_sets_the_units_position_by_hand(screen_server: ScreenServer) -> None:
    page = await _tablet(screen_server)  # this browser grants no geolocation
    await screen_server.post_alert(alert("1"))
    await page.get_by_role("alertdialog").get_by_role("button", name="接单").click()
    await page.get_by_role("button", name="开始值守").click()
    await expect(page.locator("#notice")).to_contain_text("我在这里")

    await page.get_by_role("button", name="我在这里").click()
    await expect(page.locator("#whereabouts")).to_contain_text("请在地图上点选")
    box = await page.locator("#map").bounding_box()
    assert box is not None
    await page.mouse.click(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)
    await expect(page.locator("#whereabouts")).to_contain_text("位置已上报")
    await expect(page.locator("#card .facts")).to_contain_text("（按当前位置）")  # distance from the tap

    async def moved_by_hand() -> bool:
        units = (await screen_server.api("GET", "/api/v1/responders"))["responders"]
        [unit] = [each for each in units if each["id"] == UNIT]
        position = unit["position"]
        # Home is 28.16, 112.1; the tap was up and left of the incident's place (28.15, 112.1).
        return bool(position["lat"] > 28.15 and position["lon"] < 112.1 and unit["position_at"])

    await eventually(moved_by_hand, "the unit's position is where the map was tapped")
    await screen_server.shot(page, "tablet-i-am-here")

    await page.get_by_role("button", name="我在任务地点").click()

    async def at_the_task() -> bool:
        units = (await screen_server.api("GET", "/api/v1/responders"))["responders"]
        [unit] = [each for each in units if each["id"] == UNIT]
        return bool(unit["position"] == WEST_N)

    await eventually(at_the_task, "the unit's position is the task's place")
    await expect(page.locator("#card .distance")).to_have_text("0 米")


async def test_tablet_shares_the_devices_position_while_on_duty(screen_server: ScreenServer) -> None:
    page = await _tablet(screen_server)
    await page.context.grant_permissions(["geolocation"])
    await page.context.set_geolocation({"latitude": 28.12, "longitude": 112.05, "accuracy": 8})

    await page.get_by_role("button", name="开始值守").click()

    await expect(page.get_by_role("button", name="值守中")).to_have_attribute("aria-pressed", "true")
    await expect(page.locator("#whereabouts")).to_contain_text("定位 ±8 米")

    async def shared() -> bool:
        units = (await screen_server.api("GET", "/api/v1/responders"))["responders"]
        [unit] = [each for each in units if each["id"] == UNIT]
        return bool(unit["position"] == {"lat": 28.12, "lon": 112.05})

    await eventually(shared, "the device's position reached the server")
    await expect(page.locator("#notice")).to_be_hidden()


async def test_tablet_phone_layout_and_english(screen_server: ScreenServer) -> None:
    page = await _tablet(screen_server, PHONE)
    await screen_server.post_alert(alert("1", title="人民路积水 30 厘米"))
    overlay = page.get_by_role("alertdialog")
    await expect(overlay).to_contain_text("WEST / WEST-N")
    await screen_server.shot(page, "phone-ringing")
    await overlay.get_by_role("button", name="查看").click()
    await expect(page.locator("#card .card-state")).to_contain_text("已送达")
    await screen_server.shot(page, "phone-card")
    small = await page.evaluate(
        """() => [...document.querySelectorAll('button')]
              .filter((b) => b.offsetParent !== null)
              .map((b) => [b.textContent.trim(), b.getBoundingClientRect().height])
              .filter(([, height]) => height < 48)"""
    )
    assert small == []  # every visible touch target is at least 48 px tall

    await page.get_by_role("button", name="English").click()

    await expect(page.locator("#link")).to_have_text("Online")
    await expect(page.locator("#card .card-state")).to_contain_text("Delivered")
    await expect(page.locator("#card").get_by_role("button", name="Accept")).to_be_visible()
    await expect(page.locator("#card").get_by_role("button", name="Decline")).to_be_visible()
    await expect(page.get_by_role("button", name="Start duty")).to_be_visible()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await screen_server.shot(page, "phone-english")


async def test_tablet_is_installable_and_opens_without_signal(screen_server: ScreenServer) -> None:
    page = await _tablet(screen_server)
    await expect(page.locator("body")).to_have_attribute("data-worker", "ready")
    manifest = await (await page.request.get("/tablet/manifest.webmanifest")).json()
    assert manifest["start_url"] == manifest["scope"] == "/tablet/"
    assert manifest["display"] == "standalone"
    assert manifest["name"] == "应急处置"
    sizes = set()
    for each in manifest["icons"]:
        assert each["src"].startswith("/static/tablet/")  # same origin
        answer = await page.request.get(each["src"])
        assert answer.status == 200 and answer.headers["content-type"] == each["type"]
        body = await answer.body()
        if each["type"] == "image/png":
            width, height = int.from_bytes(body[16:20], "big"), int.from_bytes(body[20:24], "big")
            assert each["sizes"] == f"{width}x{height}"
            sizes.add(width)
    assert {192, 512} <= sizes
    posted = await screen_server.post_alert(alert("1", title="人民路积水"))
    await page.get_by_role("alertdialog").get_by_role("button", name="接单").click()
    await _state_is(screen_server, posted["incident_id"], "accepted")
    await expect(page.locator("#card .card-state")).to_contain_text("已接单")

    await page.context.set_offline(True)
    await page.reload()

    await expect(page.locator("#offline")).to_contain_text("保存的任务")
    await expect(page.locator("#card")).to_contain_text("人民路积水")
    await expect(page.locator("#card .card-state")).to_contain_text("已接单")
    await page.locator("#card").get_by_role("button", name="出发").click()
    await expect(page.locator("#outbox-count")).to_have_text("待发送 1")
    await screen_server.shot(page, "tablet-reopened-offline")

    await page.context.set_offline(False)

    await _state_is(screen_server, posted["incident_id"], "en_route")
    await expect(page.locator("#outbox-count")).to_be_hidden()


async def test_tablet_knows_the_task_machine_as_the_server_does(screen_server: ScreenServer) -> None:
    page = await screen_server.page(TABLET)
    await page.goto("/")
    table = await page.evaluate("import('/static/tablet/tasks.js').then((module) => module.TRANSITIONS)")

    server = {
        str(row.trigger): [sorted(str(state) for state in row.source), str(row.dest)]
        for row in TASK_TRANSITIONS
        if str(row.trigger) in TABLET_TRIGGERS
    }
    assert {trigger: [sorted(sources), dest] for trigger, (sources, dest) in table.items()} == server


def _keys_the_tablet_names() -> set[str]:
    """Every word key written out in the tablet's page and modules."""
    tablet = Path(__file__).resolve().parents[2] / "web" / "static" / "tablet"
    source = "\n".join(path.read_text() for path in [*tablet.glob("*.js"), tablet / "index.html"])
    key = r"(?:tablet|common|app|error|task_state|task_trigger)\.[a-z_]+(?:\.[a-z_]+)?"
    return set(re.findall(rf"""["'`]({key})["'`]""", source))


async def test_tablet_every_word_it_shows_is_in_both_languages() -> None:
    named = _keys_the_tablet_names()
    built = {  # keys the code puts together from a state, a problem or a reason
        *(f"tablet.geo.{problem}" for problem in ("insecure", "unsupported", "denied", "unavailable")),
        *(f"tablet.reason.{reason}" for reason in ("busy", "far", "equipment", "unwell")),
        *(f"tablet.{kind}_title" for kind in ("cancelled", "expired")),
        *(f"task_trigger.{trigger}" for trigger in TABLET_TRIGGERS),
        *(f"task_state.{state}" for state in TaskState),
    }
    assert len(named) > 40
    for language in i18n.LANGUAGES:
        words = i18n.table(language)
        assert sorted(key for key in named | built if key not in words) == [], language
    assert set(tablet_words.ZH) == set(tablet_words.EN)
    assert set(tablet_words.ZH) <= named | built  # no word left over from an older screen


async def test_tablet_over_plain_http_in_a_town_says_what_is_lost_and_still_works(
    screen_server: ScreenServer, playwright: Playwright
) -> None:
    """A tablet reaching the server by a LAN name without TLS: not a secure context."""
    port = screen_server.client.port
    # The server knows its address, not the names that reach it: an operator lists the name
    # (README: WebSocket), here once the port is known.
    screen_server.config.websocket.allowed_origins.append(f"http://dispatch.town.test:{port}")
    town_browser = await playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP dispatch.town.test 127.0.0.1"],
    )
    try:
        context = await town_browser.new_context(
            viewport=TABLET, locale="zh-CN", base_url=f"http://dispatch.town.test:{port}"
        )
        page = await context.new_page()
        screen_server.user("zhang", "responder", responder=UNIT)
        await screen_server.login(page, "zhang", expect_path="/tablet/")
        await expect(page.locator("body")).to_have_attribute("data-link", "online")

        assert await page.evaluate("window.isSecureContext") is False
        await expect(page.locator("body")).to_have_attribute("data-worker", "unavailable")
        await expect(page.locator("#notice")).to_contain_text("不是 HTTPS 安全连接")
        await expect(page.locator("#notice")).to_contain_text("不能离线使用")
        posted = await screen_server.post_alert(alert("1"))
        await page.get_by_role("alertdialog").get_by_role("button", name="接单").click()
        await _state_is(screen_server, posted["incident_id"], "accepted")  # request ids without randomUUID
        await screen_server.shot(page, "tablet-plain-http")
    finally:
        await town_browser.close()


async def test_tablet_task_assigned_while_the_list_is_in_flight_gets_its_place_words(
    screen_server: ScreenServer,
) -> None:
    """A task's place words come with GET /api/v1/tasks. A task assigned while a list read before
    it is still on its way must not stay 未知 (unknown): the tablet asks again after that list."""
    page = await _tablet(screen_server)
    overlay = page.get_by_role("alertdialog")
    await screen_server.post_alert(alert("1", title="人民路积水 30 厘米"))
    await overlay.get_by_role("button", name="接单").click()
    await expect(overlay).to_be_hidden()

    held, release = asyncio.Event(), asyncio.Event()

    async def hold_the_next_list(route: Route) -> None:
        if held.is_set():
            await route.continue_()
            return
        response = await route.fetch()  # read now: it holds the second task, not the third
        held.set()
        await release.wait()
        await route.fulfill(response=response)

    await page.route("**/api/v1/tasks", hold_the_next_list)

    async def assigned(number: int, place: dict[str, float]) -> None:
        body = alert(f"v{number}", source=f"cam-{number}", category="vending", location=place)
        incident_id = (await screen_server.post_alert(body))["incident_id"]
        reason = {"responder_id": UNIT, "reason": "near"}
        await screen_server.api("POST", f"/api/v1/incidents/{incident_id}/assign", reason)

    await assigned(2, {"lat": 28.16, "lon": 112.11})
    await asyncio.wait_for(held.wait(), 10)  # the second task's list is on its way, held
    await assigned(3, {"lat": 28.17, "lon": 112.12})
    await expect(overlay).to_contain_text("另有 1 个新任务")  # both ring, the older one shown
    await expect(overlay).to_contain_text("未知")  # provisional: its place words are not here yet

    release.set()

    # Each card gets its place words from the list asked for again after the held one.
    await expect(overlay).to_contain_text("WEST / WEST-N")
    await overlay.get_by_role("button", name="查看").click()  # seen: the newer one rings now
    await expect(overlay).not_to_contain_text("另有")
    await expect(overlay).to_contain_text("WEST / WEST-N")
    await expect(overlay).not_to_contain_text("未知")
    await screen_server.shot(page, "tablet-place-after-list")
