"""Take the README's screenshots from a living demo: `dispatch serve --demo` and Debian's Chromium.

    .venv/bin/python docs/screenshots/take.py [--wait 90]

Starts the demo on a free port and opens the demo unit's tablet (1280×800) and phone (390×844):
the first task rings, the phone accepts it. After `--wait` seconds of the simulated flood day it
logs in as the demo's dispatcher, town dispatcher and big screen and saves their screens here
(console at 1920×1080 and 1366×768, the big screen at 1920×1080).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

from playwright.async_api import Browser, Page, async_playwright

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def login(browser: Browser, base: str, name: str, password: str, viewport: dict[str, int]) -> Page:
    context = await browser.new_context(
        viewport=viewport, base_url=base, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page = await context.new_page()
    await page.goto("/")
    await page.fill("#name", name)
    await page.fill("#password", password)
    await page.click("#submit")
    await page.wait_for_url(re.compile(r"/(console|tablet|screen)/"))
    return page


async def shoot(base: str, password: str, wait: float) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        # The demo unit's tablet is open from the start: its first task rings on it.
        tablet = await login(browser, base, "demo-unit", password, {"width": 1280, "height": 800})
        phone = await login(browser, base, "demo-unit", password, {"width": 390, "height": 844})
        await tablet.wait_for_selector("#overlay[open]", timeout=120_000)
        await tablet.wait_for_timeout(1000)
        await tablet.screenshot(path=HERE / "tablet-1280-ringing.png")
        await phone.wait_for_selector("#overlay[open]", timeout=30_000)
        await phone.locator("#overlay button").first.click()  # 接单: accept on the phone
        await phone.wait_for_timeout(2000)
        await phone.screenshot(path=HERE / "phone-390.png")
        await asyncio.sleep(max(0.0, wait - 60))
        console = await login(browser, base, "demo", password, {"width": 1920, "height": 1080})
        await console.wait_for_selector(".incident-row")
        await console.wait_for_timeout(2000)
        await console.screenshot(path=HERE / "console-1920.png")
        await console.locator(".incident-row").nth(1).click()
        await console.wait_for_selector(".timeline .event")
        await console.wait_for_timeout(1500)
        await console.screenshot(path=HERE / "console-1920-detail.png")
        town = await login(browser, base, "demo-town", password, {"width": 1366, "height": 768})
        await town.wait_for_timeout(2500)
        await town.screenshot(path=HERE / "console-1366-town.png")
        screen = await login(browser, base, "hall", password, {"width": 1920, "height": 1080})
        await screen.wait_for_timeout(4000)
        await screen.screenshot(path=HERE / "screen-1920.png")
        await tablet.screenshot(path=HERE / "tablet-1280.png")
        await browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wait", type=float, default=90.0, help="seconds of the demo day before the shots")
    args = parser.parse_args()
    port = free_port()
    demo = subprocess.Popen(
        [sys.executable, "-m", "dispatch", "serve", "--demo", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "DISPATCH_CONFIG": str(ROOT / "config.yaml")},
    )
    try:
        assert demo.stdout is not None
        password = None
        for line in demo.stdout:
            found = re.search(r"password for all: (\S+)", line)
            if found:
                password = found.group(1)
                break
        if password is None:
            print("the demo printed no password", file=sys.stderr)
            return 1
        # Keep reading its progress lines, so a full pipe never stops the demo.
        threading.Thread(target=lambda: [None for _ in demo.stdout or ()], daemon=True).start()
        asyncio.run(shoot(f"http://127.0.0.1:{port}", password, args.wait))
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=30)
    print(f"screenshots in {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
