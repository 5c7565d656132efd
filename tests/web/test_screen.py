"""The command hall's big screen in Chromium: live figures, the kiosk, a town's own wall, English."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Page, expect

from dispatch.config.model import Tier, load_config
from tests.factories import EAST_N, WEST_N, alert
from tests.screens import BIG_SCREEN, ScreenServer, ScreenServerFactory

pytestmark = pytest.mark.asyncio(loop_scope="session")

UNIT = "grid-west-n-1"
SAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "config.yaml"


async def _screen(server: ScreenServer, name: str = "hall", **scope: Any) -> Page:
    server.user(name, "screen", **scope)
    page = await server.page(BIG_SCREEN)
    await server.login(page, name, expect_path="/screen/")
    await expect(page.locator("#link")).to_have_class("link-state online")
    return page


async def _task_trigger(server: ScreenServer, task_id: int, trigger: str, unit: str = UNIT) -> None:
    token = server.token("responder", unit, responder=unit)
    response = await server.client.post(
        f"/api/v1/tasks/{task_id}/{trigger}", json={}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status == 200, await response.text()


def _tier(page: Page, tier: str, measure: str) -> Any:
    return page.locator(f'.tier-row[data-tier="{tier}"] .tier-time.{measure} .tier-time-value')


def _town(page: Page, town: str, column: str) -> Any:
    return page.locator(f'#towns tr[data-town="{town}"] td.{column}')


async def test_screen_counts_and_medians_change_without_reload(screen_server: ScreenServer) -> None:
    page = await _screen(screen_server)
    await page.evaluate("window.sameDocument = true")
    for figure in ("opened", "resolved", "escalated", "overdue", "open-total"):
        await expect(page.locator(f"#{figure}")).to_have_text("0")
    await expect(_tier(page, "street", "accept")).to_have_text("—")
    await expect(page.locator("#towns tbody tr")).to_have_count(2)
    await expect(page.locator("#by-category")).to_have_text("暂无在办事件")
    await expect(page.locator(".trend-svg .axis.x")).to_have_count(8)
    await screen_server.shot(page, "1-no-data-yet")

    incident_id = (await screen_server.post_alert(alert("e1", location=WEST_N)))["incident_id"]
    await expect(page.locator("#opened")).to_have_text("1")
    await expect(page.locator("#open-total")).to_have_text("1")
    await expect(_town(page, "west", "open")).to_have_text("1")
    await expect(page.locator('.town-count span[data-town="west"]')).to_have_text("1")
    await expect(page.locator(".screen-marker.sev-3")).to_have_count(1)
    await expect(page.locator('#by-category [data-category="waterlogging"] .bar-value')).to_have_text("1")
    await expect(page.locator(".trend-svg .opened-bar")).to_have_count(1)

    incident = await screen_server.api("GET", f"/api/v1/incidents/{incident_id}")
    task_id = incident["tasks"][0]["id"]
    screen_server.clock.advance(30)
    await _task_trigger(screen_server, task_id, "accept")
    await expect(_tier(page, "street", "accept")).to_have_text("30秒")
    await expect(_town(page, "west", "accept")).to_have_text("30秒")
    screen_server.clock.advance(60)
    await _task_trigger(screen_server, task_id, "arrive")
    await expect(_tier(page, "street", "arrive")).to_have_text("1分30秒")
    await expect(_tier(page, "town", "arrive")).to_have_text("—")
    await expect(page.locator('#by-state [data-state="on_scene"] .bar-value')).to_have_text("1")
    await screen_server.shot(page, "2-accepted-and-arrived")

    await screen_server.api("POST", f"/api/v1/incidents/{incident_id}/resolve", {"reason": "drain cleared"})
    await expect(page.locator("#resolved")).to_have_text("1")
    await expect(page.locator("#open-total")).to_have_text("0")
    await expect(page.locator(".screen-marker")).to_have_count(0)
    await expect(page.locator(".trend-svg .resolved-dot")).to_have_count(1)
    await screen_server.shot(page, "3-resolved")
    assert await page.evaluate("window.sameDocument") is True  # never reloaded


async def test_screen_severe_incident_shows_in_the_band(screen_server: ScreenServer) -> None:
    page = await _screen(screen_server)
    await expect(page.locator("#severe")).to_be_hidden()

    await screen_server.post_alert(alert("big", location=EAST_N, severity=1))

    band = page.locator("#severe")
    await expect(band).to_be_visible()
    await expect(band).to_contain_text("Ⅰ级")
    await expect(band).to_contain_text("Waterlogging")
    await expect(page.locator(".screen-marker.sev-1")).to_have_count(1)
    await screen_server.shot(page, "severe-band")


async def test_screen_kiosk_needs_no_clicks_and_survives_a_drop(screen_server: ScreenServer) -> None:
    page = await _screen(screen_server)
    await page.goto("/screen/?kiosk=1")
    await expect(page.locator("#link")).to_have_class("link-state online")
    await expect(page.locator("#language")).to_be_hidden()
    await expect(page.locator("#logout")).to_be_hidden()
    assert await page.evaluate("getComputedStyle(document.querySelector('#opened')).cursor") == "none"

    await page.context.set_offline(True)
    await expect(page.locator("#link")).to_have_text("离线/重连中")
    await screen_server.post_alert(alert("e1", location=WEST_N))
    await screen_server.shot(page, "1-offline")
    await expect(page.locator("#opened")).to_have_text("0")
    await page.context.set_offline(False)
    await expect(page.locator("#link")).to_have_text("在线")
    await expect(page.locator("#opened")).to_have_text("1")  # caught up after the reconnect

    session = await (await page.request.get("/api/v1/session")).json()
    ended = await page.request.delete("/api/v1/session", headers={"X-CSRF-Token": session["csrf_token"]})
    assert ended.status == 200
    await expect(page.locator("#ended")).to_be_visible()
    await expect(page.locator("#ended")).to_contain_text("大屏登录已失效")
    await expect(page.locator("#ended")).to_contain_text("/screen/?kiosk=1")
    assert page.url.endswith("/screen/?kiosk=1")  # a message on the wall, never the login form
    await expect(page.get_by_label("密码")).to_have_count(0)
    await screen_server.shot(page, "2-session-ended")


async def test_screen_town_wall_sees_only_its_town(screen_server: ScreenServer) -> None:
    page = await _screen(screen_server, "west-wall", jurisdiction="west")
    await expect(page.locator("#title")).to_contain_text("WEST")

    await screen_server.post_alert(alert("w1", location=WEST_N))
    await screen_server.post_alert(alert("e1", source="gauge-east", location=EAST_N))

    await expect(page.locator("#opened")).to_have_text("1")
    await expect(page.locator("#towns tbody tr")).to_have_count(1)
    await expect(page.locator('#towns tbody tr[data-town="west"]')).to_have_count(1)
    await expect(page.locator(".town-count span")).to_have_count(1)
    await expect(page.locator(".screen-marker")).to_have_count(1)
    stats = await (await page.request.get("/api/v1/stats")).json()
    assert [incident["town"] for incident in stats["incidents"]] == ["west"]
    everything = await screen_server.api("GET", "/api/v1/stats")
    assert everything["period"]["opened"] == 2
    await screen_server.shot(page, "west-wall")


async def test_screen_english_switch_changes_every_label(screen_server: ScreenServer) -> None:
    page = await _screen(screen_server)
    await screen_server.post_alert(alert("e1", location=WEST_N))
    await expect(page.locator("#opened")).to_have_text("1")
    await expect(page.locator('.tile[data-figure="opened"] .tile-label')).to_have_text("新增事件")

    await page.get_by_role("button", name="English").click()

    await expect(page.locator('.tile[data-figure="opened"] .tile-label')).to_have_text("Opened")
    await expect(page.locator('.tier-row[data-tier="street"] .tier-name')).to_contain_text("Street grid")
    await expect(page.locator('#by-state [data-state="dispatched"] .bar-label')).to_have_text("Dispatched")
    await expect(page.locator("#link")).to_have_text("Online")
    await expect(page.locator("#towns thead")).to_contain_text("Town")
    await expect(page.locator("#title")).to_contain_text("Command hall")
    await expect(page.get_by_role("button", name="中文")).to_be_visible()
    await screen_server.shot(page, "english")


def _this_morning(timezone: str) -> float:
    """06:00 local time today, or yesterday if it is not six yet."""
    now = datetime.now(ZoneInfo(timezone))
    morning = now.replace(hour=6, minute=0, second=0, microsecond=0)
    return (morning if morning <= now else morning - timedelta(days=1)).timestamp()


async def test_screen_a_busy_morning_in_the_sample_city(make_screen_server: ScreenServerFactory) -> None:
    """沅江市 of config.yaml: forty incidents in its streets, some taken up, some resolved."""
    config = load_config(SAMPLE_CONFIG)
    # The morning's four hours must fall on one local day whenever the suite runs: begun at the
    # clock's reading of now, they crossed midnight in 沅江 (UTC+8) for runs after 11:45 UTC.
    server = await make_screen_server(config, start=_this_morning(config.timezone))
    chance = random.Random(7)
    streets = [node for node in config.jurisdictions if node.tier == Tier.STREET]
    incidents = []
    for number in range(40):
        street = chance.choice(streets)
        place = {
            "lat": street.center.lat + chance.uniform(-0.004, 0.004),
            "lon": street.center.lon + chance.uniform(-0.004, 0.004),
        }
        category = chance.choice(config.categories).id
        severity = chance.choice([1, 2, 3, 3, 4, 4, 4])
        body = alert(
            f"busy-{number}", source=f"busy-{number}", category=category, severity=severity, location=place
        )
        incidents.append((await server.post_alert(body))["incident_id"])
        server.clock.advance(chance.uniform(5, 40))
    for incident_id in incidents[:25]:
        [task, *_] = (await server.api("GET", f"/api/v1/incidents/{incident_id}"))["tasks"]
        server.clock.advance(chance.uniform(10, 120))
        await _task_trigger(server, task["id"], "accept", task["responder_id"])
        server.clock.advance(chance.uniform(120, 900))
        await _task_trigger(server, task["id"], "arrive", task["responder_id"])
    for incident_id in incidents[:10]:
        await server.api("POST", f"/api/v1/incidents/{incident_id}/resolve", {"reason": "handled"})
    expected = await server.api("GET", "/api/v1/stats")

    page = await _screen(server)

    await expect(page.locator("#title")).to_contain_text("沅江市")
    await expect(page.locator("#opened")).to_have_text("40")
    await expect(page.locator("#resolved")).to_have_text("10")
    await expect(page.locator("#open-total")).to_have_text(str(expected["open"]["total"]))
    await expect(page.locator("#towns tbody tr")).to_have_count(len(expected["towns"]))
    await expect(page.locator(".screen-marker")).to_have_count(len(expected["incidents"]))
    street_accept = next(tier for tier in expected["tiers"] if tier["tier"] == "street")["accept"]
    assert street_accept["count"] > 0
    await expect(_tier(page, "street", "accept")).not_to_have_text("—")
    await server.shot(page, "1-yuanjiang-zh")
    await page.get_by_role("button", name="English").click()
    await expect(page.locator("#link")).to_have_text("Online")
    await server.shot(page, "2-yuanjiang-en")
