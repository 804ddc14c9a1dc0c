"""The dashboard in a real headless Chromium (Debian's, driven by Playwright): charts drawn from data, and
an alert that fires while the page is open appears on it. Skipped where no browser is installed,
required when OXBOT_REQUIRE_BROWSER=1 (CI). The screenshot goes to $OXBOT_ARTIFACTS_DIR (else tmp_path).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import Any

import pytest

from pytest_oxbot.monitor.app import serve
from pytest_oxbot.monitor.demo import DemoBot
from tests.browser import BROWSER_FLAGS
from tests.browser import chromium as browser_binary

from .conftest import LATENCY, run_cycles


@pytest.mark.oxbot_monitor(config=LATENCY)
async def test_dashboard_draws_charts_and_shows_a_firing_alert(
    oxbot_monitor: Any, demo_bot: DemoBot, tmp_path: Path
) -> None:
    chromium = browser_binary()
    from playwright.async_api import async_playwright

    monitor = oxbot_monitor.monitor
    await run_cycles(demo_bot, oxbot_monitor, 8)
    ports: list[int] = []
    server = asyncio.create_task(
        serve(monitor, port=0, token="t" * 24, refresh_s=0.3, on_ready=ports.append, sample=False)
    )
    artifacts = Path(os.environ.get("OXBOT_ARTIFACTS_DIR") or tmp_path)
    artifacts.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (once, before the loop has work)
    try:
        while not ports:
            assert not server.done(), server
            await asyncio.sleep(0.02)
        base = f"http://127.0.0.1:{ports[0]}"
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=chromium, args=BROWSER_FLAGS[1:], headless=True
            )
            try:
                page = await browser.new_page(viewport={"width": 1000, "height": 1400})
                requested: list[str] = []
                page.on("request", lambda r: requested.append(r.url))
                await page.goto(f"{base}/performance?hours=1")
                await page.wait_for_selector("svg#chart-hit-rate polyline[data-series='all']", timeout=15_000)
                drawn = await page.evaluate(
                    "() => Object.fromEntries([...document.querySelectorAll('svg.chart')].map(svg => [svg.id,"
                    " Math.max(0, ...[...svg.querySelectorAll('polyline.series')].map("
                    "p => parseInt(p.dataset.points, 10)))]))"
                )
                for chart in (
                    "hit-rate",
                    "llm-latency",
                    "cost-decision",
                    "cost-day",
                    "tokens",
                    "api-calls",
                    "memory",
                ):
                    assert drawn[f"chart-{chart}"] >= 2, (chart, drawn)  # a line, from the stored history
                assert await page.locator("#active-alerts li.alert").count() == 0

                demo_bot.set_latency("gpt-4o-mini", 2.5)  # the alert fires while the page is open
                for _ in range(4):
                    await run_cycles(demo_bot, oxbot_monitor, 1)
                    if oxbot_monitor.active():
                        break
                assert oxbot_monitor.active() == ["llm_response_time_high"]
                await oxbot_monitor.tick()  # the bot's report of what it applied comes with its next sample
                alert = page.locator("#active-alerts li.alert[data-alert='llm_response_time_high']")
                await alert.wait_for(timeout=15_000)  # no reload: the page's poller brought it
                assert "switch_to_faster_model" in await alert.inner_text()
                await page.wait_for_selector("#applied-actions li.applied.ok", timeout=15_000)
                await page.screenshot(path=str(artifacts / "monitor-dashboard.png"), full_page=True)
                assert all(url.startswith(base) for url in requested), requested  # nothing from elsewhere
            finally:
                await browser.close()
    finally:
        server.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await server
    assert (artifacts / "monitor-dashboard.png").stat().st_size > 10_000
