"""The HTML report as a reviewer sees it: rendered in headless Chromium (Debian's, driven by Playwright).

Elements counted, every SVG's text labels checked for collisions (their boxes on screen), each plot
checked for ink (a screenshot of it is not blank), tick labels readable (no `1e-05` offsets). Skipped
without a browser unless OXBOT_REQUIRE_BROWSER=1; the page's screenshot goes to $OXBOT_ARTIFACTS_DIR.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser import BROWSER_FLAGS, artifacts_dir, chromium

from .report_fixtures import rich_report

pytest.importorskip("matplotlib")

EXPONENT = re.compile(r"\de[-−+]?\d|×\s*10|^[-−+]?\d+(\.\d+)?e")
TEXT_BOXES = """() => [...document.querySelectorAll('figure.plot')].map(fig => ({
  kind: fig.dataset.kind,
  texts: [...fig.querySelectorAll('svg text')].filter(t => t.textContent.trim()).map(t => {
    const r = t.getBoundingClientRect();
    return {text: t.textContent.trim(), x: r.x, y: r.y, w: r.width, h: r.height};
  }),
}))"""


def _overlap(a: dict[str, Any], b: dict[str, Any], slack: float = 0.5) -> bool:
    return (
        a["x"] + a["w"] - slack > b["x"]
        and b["x"] + b["w"] - slack > a["x"]
        and a["y"] + a["h"] - slack > b["y"]
        and b["y"] + b["h"] - slack > a["y"]
    )


def _ink(png: bytes) -> float:
    """The share of pixels that are not (near) white."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("L")
    histogram = image.histogram()
    return 1 - sum(histogram[245:]) / (image.width * image.height)


async def test_report_renders_readable_plots_in_a_browser(tmp_path: Path) -> None:
    binary = chromium()
    from playwright.async_api import async_playwright

    from pytest_oxbot.kpi.report import html

    results, baseline, trends = rich_report()
    page_html = html.render(results, header="baseline .oxbot/baseline.json", trends=trends, baseline=baseline)
    artifacts = artifacts_dir(tmp_path)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=binary, args=BROWSER_FLAGS[1:], headless=True)
        try:
            page = await browser.new_page(viewport={"width": 1300, "height": 1000})
            requested: list[str] = []
            page.on("request", lambda r: requested.append(r.url))
            await page.set_content(page_html, wait_until="load")
            await page.screenshot(path=str(artifacts / "kpi-report.png"), full_page=True)

            assert await page.locator("table.results tr").count() == len(results) + 1
            assert await page.locator("ul.reasons li").count() == sum(1 for r in results if r.reason)
            assert await page.locator("ul.reasons li").first.get_attribute("class") == "fail"
            figures = await page.evaluate(TEXT_BOXES)
            kinds = [f["kind"] for f in figures]
            # targets: db_query_time, cost_per_decision, prompt_tokens; no target: work_instructions
            assert sorted(kinds) == sorted(
                ["target"] * 3 + ["baseline"] + ["distribution"] * 3 + ["trend"] * 2
            ), kinds

            for figure in figures:
                texts = figure["texts"]
                assert texts, figure["kind"]
                for i, a in enumerate(texts):
                    for b in texts[i + 1 :]:
                        assert not _overlap(a, b), (figure["kind"], a, b)
                    assert not EXPONENT.search(a["text"]), a  # no 1e-05 ticks, no offset text
            labels = {t["text"] for f in figures for t in f["texts"]}
            assert any(t.startswith("$0.000") for t in labels), labels  # money in dollars, not 1e-4
            assert any(t.endswith("µs") for t in labels), labels  # tiny timings with an SI prefix
            assert any(t.endswith(" M") for t in labels), labels  # instruction counts, no 1e7 offset
            trend_texts = [t["text"] for f in figures if f["kind"] == "trend" for t in f["texts"]]
            assert "…_instructions[case-0]" in trend_texts or "test_work_instructions[case-0]" in trend_texts

            plots = page.locator("figure.plot svg")
            assert await plots.count() == len(figures)
            for i in range(len(figures)):
                shot = await plots.nth(i).screenshot()
                assert _ink(shot) > 0.02, (i, figures[i]["kind"])
            assert all(url.startswith(("about:", "data:")) for url in requested), requested
        finally:
            await browser.close()
    assert (artifacts / "kpi-report.png").stat().st_size > 20_000
