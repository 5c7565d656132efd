"""Take the README's two-level screenshots from two living demos: a county linked up to its prefecture.

    .venv/bin/python docs/screenshots/take_two_levels.py

Starts the prefecture's demo (dispatch/config/samples/prefecture.yaml) on a free port and the
county's (config.yaml) on 8080, the port the sample's `downstream` names, with `--upstream`. About
a minute and a half in it shoots the flood-control office's sub-center desk (its 协办 queue); once the
levee piping has gone up and the prefecture's instruction has come down (about four and a half
minutes), the county console's alarm; then it acknowledges and shoots the prefecture's incident.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

from playwright.async_api import Browser, async_playwright
from take import CHROMIUM_ARGS, free_port, login

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
COUNTY_PORT = 8080


def start(*arguments: str) -> tuple[subprocess.Popen[str], str]:
    """A demo and its password (its progress lines drained so a full pipe never stops it)."""
    demo = subprocess.Popen(
        [sys.executable, "-m", "dispatch", "serve", "--demo", *arguments],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "DISPATCH_CONFIG": str(ROOT / "config.yaml")},
    )
    assert demo.stdout is not None
    for line in demo.stdout:
        found = re.search(r"password for all: (\S+)", line)
        if found:
            threading.Thread(target=lambda: [None for _ in demo.stdout or ()], daemon=True).start()
            return demo, found.group(1)
    raise SystemExit(f"the demo {' '.join(arguments)} printed no password")


async def shoot(browser: Browser, county: str, county_password: str, above: str, above_password: str) -> None:
    await asyncio.sleep(90)
    desk = await login(browser, county, "demo-flood", county_password, {"width": 1366, "height": 768})
    await desk.wait_for_timeout(3000)
    await desk.screenshot(path=HERE / "console-1366-subcenter.png")
    console = await login(browser, county, "demo", county_password, {"width": 1920, "height": 1080})
    await console.wait_for_selector(".instruction", timeout=420_000)
    await console.wait_for_timeout(2000)
    await console.screenshot(path=HERE / "console-1920-instruction.png")
    await console.locator(".instruction button.primary").first.click()  # 确认收到
    prefecture = await login(browser, above, "demo", above_password, {"width": 1920, "height": 1080})
    await prefecture.wait_for_selector(".incident-row")
    await prefecture.locator(".incident-row").first.click()
    await prefecture.wait_for_selector(".timeline .event")
    await prefecture.wait_for_timeout(4000)
    await prefecture.screenshot(path=HERE / "prefecture-1920-detail.png")


async def run(county: str, county_password: str, above: str, above_password: str) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            await shoot(browser, county, county_password, above, above_password)
        finally:
            await browser.close()


def main() -> int:
    port = free_port()
    above, above_password = start("--config", "dispatch/config/samples/prefecture.yaml", "--port", str(port))
    try:
        county, county_password = start("--port", str(COUNTY_PORT), "--upstream", f"http://127.0.0.1:{port}")
        try:
            asyncio.run(
                run(
                    f"http://127.0.0.1:{COUNTY_PORT}",
                    county_password,
                    f"http://127.0.0.1:{port}",
                    above_password,
                )
            )
        finally:
            county.send_signal(signal.SIGINT)
            county.wait(timeout=30)
    finally:
        above.send_signal(signal.SIGINT)
        above.wait(timeout=30)
    print(f"screenshots in {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
