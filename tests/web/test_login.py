"""The login page, sessions and CSRF, as a person at a browser meets them."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from dispatch.access import accounts
from dispatch.access.second_factor import code_at
from dispatch.storage.tables import event_table
from tests.screens import CONSOLE_FULL_HD, PASSWORD, ScreenServer

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _logins(server: ScreenServer) -> list[tuple[str, str]]:
    """The login events of the audit log: (type, user)."""

    def read(connection: object) -> list[tuple[str, str]]:
        import orjson
        import sqlalchemy as sa

        assert isinstance(connection, sa.Connection)
        rows = connection.execute(
            sa.select(event_table.c.type, event_table.c.payload)
            .where(event_table.c.type.like("user_%"))
            .order_by(event_table.c.seq)
        )
        return [(row.type, orjson.loads(row.payload)["user"]) for row in rows]

    return await server.runtime.read(read)


async def test_login_wrong_password_is_refused_and_logged(screen_server: ScreenServer) -> None:
    screen_server.user("wang", "dispatcher")
    page = await screen_server.page(CONSOLE_FULL_HD)
    await page.goto("/")
    await expect(page.get_by_role("heading")).to_contain_text("城市运行应急联动指挥调度")

    await page.get_by_label("用户名").fill("wang")
    await page.get_by_label("密码").fill("not-the-password")
    await page.get_by_role("button", name="登录").click()

    await expect(page.get_by_role("alert")).to_contain_text("用户名或密码错误")
    await screen_server.shot(page, "login-refused")
    assert page.url.endswith("/")
    assert await _logins(screen_server) == [("user_login_failed", "wang")]


async def test_login_lands_on_the_console_and_logout_ends_the_session(screen_server: ScreenServer) -> None:
    screen_server.user("wang", "dispatcher")
    page = await screen_server.page(CONSOLE_FULL_HD)

    await screen_server.login(page, "wang", expect_path="/console/")
    await expect(page.locator("#who")).to_contain_text("wang")
    cookies = await page.context.cookies()
    [cookie] = [each for each in cookies if each["name"] == "dispatch_session"]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["expires"] > 0
    await page.get_by_role("button", name="退出").click()
    await page.wait_for_url(re.compile(r"/\?reason=logged_out"))

    await expect(page.get_by_role("status")).to_contain_text("已退出登录")
    answer = await page.request.get("/api/v1/session")
    assert answer.status == 401
    again = await page.context.request.get(
        "/api/v1/incidents", headers={"Cookie": f"dispatch_session={cookie['value']}"}
    )
    assert again.status == 401  # the old cookie's session is gone on the server, not only in the browser
    assert await _logins(screen_server) == [("user_logged_in", "wang"), ("user_logged_out", "wang")]


async def test_login_change_without_csrf_token_is_refused(screen_server: ScreenServer) -> None:
    screen_server.user("wang", "dispatcher")
    alert = await screen_server.post_alert(
        {
            "source": "gauge-1",
            "source_event_id": "1",
            "kind": "sensor",
            "category": "waterlogging",
            "location": {"lat": 28.15, "lon": 112.1},
        }
    )
    page = await screen_server.page(CONSOLE_FULL_HD)
    await screen_server.login(page, "wang", expect_path="/console/")

    forged = await page.request.post(
        f"/api/v1/incidents/{alert['incident_id']}/escalate", data={"reason": "forged"}
    )
    session = await (await page.request.get("/api/v1/session")).json()
    genuine = await page.request.post(
        f"/api/v1/incidents/{alert['incident_id']}/escalate",
        data={"reason": "needs the town"},
        headers={"X-CSRF-Token": session["csrf_token"]},
    )

    assert forged.status == 403
    assert (await forged.json())["error"]["code"] == "csrf"
    assert genuine.status == 200, await genuine.text()
    incident = await screen_server.api("GET", f"/api/v1/incidents/{alert['incident_id']}")
    reasons = [event["payload"].get("reason") for event in incident["timeline"]]
    assert "needs the town" in reasons and "forged" not in reasons


async def test_login_five_wrong_passwords_slow_the_account_down(screen_server: ScreenServer) -> None:
    screen_server.user("wang", "dispatcher")
    page = await screen_server.page(CONSOLE_FULL_HD)
    await page.goto("/")

    for _ in range(5):
        answer = await page.request.post("/api/v1/session", data={"name": "wang", "password": "nope-nope"})
        assert answer.status == 401
    await page.get_by_label("用户名").fill("wang")
    await page.get_by_label("密码").fill(PASSWORD)
    await page.get_by_role("button", name="登录").click()

    await expect(page.get_by_role("alert")).to_contain_text("密码错误次数过多")
    await screen_server.shot(page, "login-slowed-down")
    screen_server.clock.advance(31)
    await page.get_by_role("button", name="登录").click()
    await page.wait_for_url("**/console/")
    failures = [entry for entry in await _logins(screen_server) if entry[0] == "user_login_failed"]
    assert len(failures) == 6  # five wrong passwords and one attempt while slowed down


async def test_login_admin_is_asked_for_the_code_of_its_authenticator(screen_server: ScreenServer) -> None:
    secret = accounts.add_user(
        screen_server.runtime.write_engine,
        screen_server.config,
        name="ops",
        role="admin",
        password=PASSWORD,
        now=screen_server.clock.now(),
    )
    assert secret is not None
    page = await screen_server.page(CONSOLE_FULL_HD)
    await page.goto("/")
    code_field = page.get_by_label("动态验证码")
    await expect(code_field).to_be_hidden()

    await page.get_by_label("用户名").fill("ops")
    await page.get_by_label("密码").fill(PASSWORD)
    await page.get_by_role("button", name="登录").click()

    await expect(code_field).to_be_visible()
    await expect(page.get_by_role("alert")).to_contain_text("6 位动态验证码")
    await screen_server.shot(page, "login-admin-code")
    wrong = f"{(int(code_at(secret, screen_server.clock.now())) + 1) % 1_000_000:06d}"
    await code_field.fill(wrong)
    await page.get_by_role("button", name="登录").click()
    await expect(page.get_by_role("alert")).to_contain_text("动态验证码错误")

    await code_field.fill(code_at(secret, screen_server.clock.now()))
    await page.get_by_role("button", name="登录").click()

    await page.wait_for_url("**/console/")
    assert await _logins(screen_server) == [
        ("user_login_failed", "ops"),
        ("user_login_failed", "ops"),
        ("user_logged_in", "ops"),
    ]
